// The compiled back end as an Executor: every statement runs as C++, top-level statements too
// (compiler/lower-toplevel.ts turns them into kernels). `prepare` emits one translation unit for
// whatever is new, builds it (cached by content), loads it, and records each kernel's entry point.
// Nothing here depends on the interpreter: the two back ends are peers over the same IR.

import { Diagnostic, DiagnosticError, Interrupted, RuntimeFault } from "../diagnostics.js";
import * as IR from "../ir.js";
import { lowerTopLevel, TopLevelSegment } from "../lower-toplevel.js";
import { TensorType } from "../types.js";
import { checkArgs, Executor, ExecutorOptions, RunIO } from "../../runtime/executor.js";
import { formatG6 } from "../../runtime/format.js";
import type { RawProfile } from "../../runtime/profile.js";
import { TensorStore } from "../../runtime/session.js";
import { allocTensor, forEachOffset, isContiguous, TensorView } from "../../runtime/tensor.js";
import { buildSharedObject, CxxCompileError } from "./build.js";
import { closure, EmitOptions, emitCpp, EmittedUnit, EntryInfo } from "./emit-cpp.js";
import { NativeLibrary } from "./ffi.js";
import { targetConfig } from "./target.js";

export interface EigenOptions extends ExecutorOptions {
  /** Emit options (tests: exact MMUL sums, parallel threshold, error injection). */
  emit?: EmitOptions;
}

/** A C++ compiler error → a diagnostic at the .ta statement whose generated code it is in. */
export function mapCompileError(e: CxxCompileError, unit: EmittedUnit): DiagnosticError {
  const ds: Diagnostic[] = [];
  for (const err of e.errors.slice(0, 5)) {
    let best: EmittedUnit["stmtLines"][number] | undefined;
    for (const r of unit.stmtLines) if (r.first <= err.line && err.line <= r.last && (!best || r.last - r.first < best.last - best.first)) best = r;
    ds.push({ severity: "error", span: best?.span, message: `the C++ compiler rejected the code generated for this statement: ${err.message}` });
  }
  if (!ds.length) ds.push({ severity: "error", message: `internal error: the C++ compiler failed on the generated code: ${e.output.split("\n").slice(0, 8).join("\n")}` });
  return new DiagnosticError(ds);
}

interface Entry extends EntryInfo {
  call: ReturnType<NativeLibrary["entry"]>;
  unit: EmittedUnit;
}

export class EigenExecutor implements Executor {
  readonly backend = "eigen" as const;
  private readonly entries = new Map<IR.Kernel, Entry>();
  private readonly segments = new Map<IR.Program, TopLevelSegment[]>();
  private readonly libraries: NativeLibrary[] = [];
  /** Profiling builds: each library's counter slots. */
  private readonly profiled: { lib: NativeLibrary; slots: NonNullable<EmittedUnit["profileSlots"]> }[] = [];
  private topRuns = 0;

  constructor(private readonly opts: EigenOptions = {}) {}

  async prepare(items: (IR.Program | IR.Kernel)[]): Promise<void> {
    const roots: IR.Kernel[] = [];
    let target: IR.Target | undefined;
    for (const item of items) {
      if ("body" in item) { roots.push(item); continue; }
      target ??= item.target;
      roots.push(...item.kernels);
      if (!this.segments.has(item)) {
        const segs = lowerTopLevel(item);
        this.segments.set(item, segs);
        roots.push(...segs.map((s) => s.kernel));
      }
    }
    const kernels = closure(roots).filter((k) => !this.entries.has(k));
    if (!kernels.length) return;
    const cfg = targetConfig(target);
    for (const w of cfg.warnings) this.opts.log?.(`warning: ${w.message}`);
    const unit = emitCpp(kernels, this.opts.profile ? { ...this.opts.emit, profile: true } : this.opts.emit);
    let so: string;
    // An interrupt raised during the build cancels it: the event loop is free while g++ runs, so
    // poll the flag and abort, which kills the compiler (the session is kept; nothing half-built
    // stays in the cache). A flag already set before the build stops the kernels, not the build.
    const abort = new AbortController();
    const intr = this.opts.interrupt;
    const poll = intr && Atomics.load(intr, 0) === 0 ? setInterval(() => { if (Atomics.load(intr, 0) !== 0) abort.abort(); }, 20) : undefined;
    try {
      const r = await buildSharedObject(unit.code, cfg.flags, this.opts.log, abort.signal);
      if (!r.cached) this.opts.log?.(`[eigen] compiled ${kernels.length} kernel${kernels.length === 1 ? "" : "s"} in ${r.seconds.toFixed(1)} s`);
      so = r.so;
    } catch (e) {
      if (e instanceof CxxCompileError) throw mapCompileError(e, unit);
      throw e;
    } finally {
      if (poll) clearInterval(poll);
    }
    const lib = new NativeLibrary(so);
    const env = Number(process.env.TENSORCORE_THREADS);
    const threads = this.opts.threads ?? (Number.isInteger(env) && env > 0 ? env : cfg.threads);
    if (threads) lib.setThreads(threads);
    this.libraries.push(lib);
    if (unit.profileSlots) this.profiled.push({ lib, slots: unit.profileSlots });
    for (const e of unit.entries) this.entries.set(e.kernel, { ...e, unit, call: lib.entry(e.symbol, e.kernel.params.length) });
  }

  runKernel(kernel: IR.Kernel, args: TensorView[], io: RunIO): void {
    checkArgs(kernel, args, (span, message) => new RuntimeFault(span, message));
    this.checkInterrupt();
    this.call(kernel, args, io);
  }

  runTopLevel(program: IR.Program, store: TensorStore, io: RunIO): void {
    const segments = this.segments.get(program);
    if (!segments) throw new Error("internal: runTopLevel before prepare");
    if (this.opts.profile) this.topRuns++;
    for (const seg of segments) {
      this.checkInterrupt();
      for (const v of seg.declares) store.set(v, allocTensor(v.type));
      const args = seg.sessionArgs.map((v) => {
        const t = store.get(v);
        if (!t) throw new RuntimeFault(v.span, `session tensor '${v.name}' has no value`);
        return t;
      });
      const shown = seg.show ? allocTensor(seg.show.type) : undefined;
      if (shown) args.push(shown);
      this.call(seg.kernel, args, io);
      if (shown) io.show?.(shown, seg.show!.expr);
    }
  }

  alloc(type: Pick<TensorType, "precision" | "shape" | "layout">): TensorView {
    return allocTensor(type);
  }

  adoptWeight(_key: string, value: TensorView): TensorView {
    return value; // compiled code reads weights in place
  }

  describe(): string {
    const lib = this.libraries[0];
    return lib ? `eigen (${lib.simdPath()} products, ${lib.getThreads()} threads)` : "eigen";
  }

  profile(): RawProfile | undefined {
    if (!this.opts.profile) return undefined;
    // top-level statements run as segment kernels: reported as the program's top level
    const top = new Set<IR.Kernel>();
    for (const segs of this.segments.values()) for (const s of segs) top.add(s.kernel);
    const raw: RawProfile = { backend: this.describe(), kernels: [], stmts: [] };
    let topSeconds = 0;
    for (const { lib, slots } of this.profiled) {
      const c = lib.profileCounters(slots.length);
      slots.forEach((s, i) => {
        const calls = c[2 * i], seconds = c[2 * i + 1] / 1e9;
        if (!calls) return;
        const kernel = top.has(s.kernel) ? null : s.kernel;
        if (s.stmt) raw.stmts.push({ kernel, stmt: s.stmt, calls, seconds });
        else if (kernel) raw.kernels.push({ kernel, calls, seconds });
        else topSeconds += seconds;
      });
    }
    // one top-level "call" per runTopLevel, as the interpreter counts it, whatever the segments
    if (this.topRuns) raw.kernels.push({ kernel: null, calls: this.topRuns, seconds: topSeconds });
    return raw;
  }

  resetProfile(): void {
    this.topRuns = 0;
    for (const { lib } of this.profiled) lib.profileReset();
  }

  /** The product path the loaded code was built with ("avx512", "avx2", "portable"). */
  productPath(): string | undefined {
    return this.libraries[0]?.simdPath();
  }

  /** The int8 many-row product path of the loaded code on this host ("amx", "avx512-vnni", …). */
  int8Path(): string | undefined {
    return this.libraries[0]?.int8Path();
  }

  /** The many-row float product path of the loaded code on this host ("amx-bf16", "avx512", …). */
  floatPath(): string | undefined {
    return this.libraries[0]?.floatPath();
  }

  close(): void {
    // Libraries stay mapped (linked -z nodelete: OpenMP workers may still spin); forget the entries.
    this.entries.clear();
    this.segments.clear();
  }

  private checkInterrupt(): void {
    if (this.opts.interrupt && Atomics.load(this.opts.interrupt, 0) !== 0) throw new Interrupted();
  }

  /**
   * Call a kernel's compiled entry. Entries are compiled for the parameters' storage strides; an
   * argument with other strides (a window of a larger tensor) is copied in and out around the call.
   */
  private call(kernel: IR.Kernel, args: TensorView[], io: RunIO): void {
    const e = this.entries.get(kernel);
    if (!e) throw new Error(`internal: kernel '${kernel.name}' was not prepared for the compiled back end`);
    const bound = args.map((a, i) => (fits(a, e.strides[i]) ? a : packed(a)));
    const offs = new Int32Array(bound.length);
    bound.forEach((a, i) => { offs[i] = a.offset; });
    const fault = new Int32Array(3);
    let rc: number;
    try {
      rc = e.call(bound.map((a) => a.data), offs, this.opts.interrupt ?? null, (x) => io.print(formatG6(x)), fault);
    } finally {
      bound.forEach((b, i) => { if (b !== args[i]) copyInto(b, args[i]); });
    }
    if (rc === 0) return;
    if (rc === 2 || fault[0] === -1) throw new Interrupted();
    const info = e.unit.faults[fault[0] - 1];
    if (!info) throw new Error(`internal: compiled kernel '${kernel.name}' failed with an unknown fault ${fault[0]}`);
    throw new RuntimeFault(info.span, info.message(fault[1], fault[2]));
  }
}

function fits(a: TensorView, strides: number[]): boolean {
  for (let ax = 0; ax < a.shape.length; ax++) if (a.shape[ax] !== 1 && a.strides[ax] !== strides[ax]) return false;
  return true;
}

/** A row-major copy of a view (same precision). */
function packed(a: TensorView): TensorView {
  const t = allocTensor({ precision: a.precision, shape: a.shape, layout: { kind: "RowMajor" } });
  if (isContiguous(a)) t.data.set(a.data.subarray(a.offset, a.offset + t.data.length) as never);
  else forEachOffset(a, (src, i) => { t.data[i] = a.data[src]; });
  return t;
}

function copyInto(from: TensorView, to: TensorView): void {
  forEachOffset(to, (dst, i) => { to.data[dst] = from.data[i]; });
}
