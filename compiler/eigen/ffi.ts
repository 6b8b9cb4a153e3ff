// Loading a built shared object into this Node process with koffi, and calling kernel entries
// with the interpreter's own typed arrays (koffi passes a TypedArray as a pointer to its data,
// no copy; calls are synchronous). See docs/compiler.md for why koffi and not a Node-API addon.

import koffi from "koffi";

export type PrintSink = (value: number) => void;

// One registered callback for every library; it forwards to whoever is calling right now
// (calls are synchronous, so a stack of sinks is exact).
const sinks: PrintSink[] = [];
let printProto: unknown;
let printPtr: unknown;
function printCallback(): unknown {
  if (!printPtr) {
    printProto = koffi.proto("void tc_print_fn(double)");
    printPtr = koffi.register((x: number) => { sinks[sinks.length - 1]?.(x); }, koffi.pointer(printProto as never));
  }
  return printPtr;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Fn = (...args: any[]) => number;

export class NativeLibrary {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private readonly lib: any;
  constructor(readonly path: string) {
    this.lib = koffi.load(path);
  }

  /** An entry `int32_t f(void* a0..., const int32_t* offs, const int32_t* intr, print_fn, int32_t* fault)`. */
  entry(symbol: string, params: number): (data: ArrayBufferView[], offs: Int32Array, intr: Int32Array | null, print: PrintSink, fault: Int32Array) => number {
    const cb = printCallback();
    const types = [...new Array(params).fill("void *"), "int32_t *", "int32_t *", koffi.pointer(printProto as never), "int32_t *"];
    const f: Fn = this.lib.func(symbol, "int32_t", types);
    return (data, offs, intr, print, fault) => {
      sinks.push(print);
      try {
        return f(...data, offs, intr, cb, fault);
      } finally {
        sinks.pop();
      }
    };
  }

  setThreads(n: number): void {
    (this.lib.func("tc_set_threads", "void", ["int"]) as Fn)(n);
  }

  /** The product path this library was built with: "avx512", "avx2" or "portable". */
  simdPath(): string {
    return (this.lib.func("tc_simd_path", "const char *", []) as unknown as () => string)();
  }

  /** The int8 product path many rows take on this host: "amx", "avx512-vnni", "avx512", "avx2-vnni", "avx2" or "portable". */
  int8Path(): string {
    return (this.lib.func("tc_int8_path", "const char *", []) as unknown as () => string)();
  }

  /** The path many-row float products take on this host: "amx-bf16", or simdPath(). */
  floatPath(): string {
    return (this.lib.func("tc_float_path", "const char *", []) as unknown as () => string)();
  }

  /** Profiling builds: (calls, nanoseconds) per counter slot (EmittedUnit.profileSlots). */
  profileCounters(slots: number): Float64Array {
    const out = new Float64Array(2 * slots);
    (this.lib.func("tc_profile_read", "int32_t", ["double *", "int32_t"]) as Fn)(out, out.length);
    return out;
  }

  profileReset(): void {
    (this.lib.func("tc_profile_reset", "void", []) as Fn)();
  }

  getThreads(): number {
    return (this.lib.func("tc_get_threads", "int", []) as Fn)();
  }
}
