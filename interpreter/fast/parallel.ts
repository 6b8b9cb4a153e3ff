// Helper threads for the interpreter's large f32 matrix products (products.ts). The main thread writes a job
// into a shared control block and wakes a helper with Atomics.notify (no message per job: each
// shared buffer is sent to the helpers once), computes its own share, then waits for the helper's
// flag. Shares split the output, never the sum, so the result is bit-identical to one thread.
// Products too small to repay the hand-off stay on the main thread. When the large operand (a
// weight) lives in the WebAssembly heap (wasm-kernels.ts), every thread computes its share with the
// WebAssembly twins of the same kernels, bit-identical and about five times faster.

import { availableParallelism } from "node:os";
import { MessageChannel, MessagePort, Worker } from "node:worker_threads";
import { matmulF64Rows, matvecF32, ParallelMatmul } from "./products.js";
import { scratchBytes, WasmKernels, wasmHeap } from "./wasm-kernels.js";

const MIN_WORK = 1 << 17; // multiply-adds below which one thread is faster

/** Layout of a helper's control block (Int32Array over a SharedArrayBuffer). */
export const CTRL = {
  SEQ: 0, // bumped by the main thread for every job
  DONE: 1, // the helper stores the SEQ it finished (negative: failed)
  KIND: 2, // 0 vec, 1 rows
  A: 3, B: 6, OUT: 9, // [buffer id, element offset, length] each
  M: 12, K: 13, N: 14, LO: 15, HI: 16,
  BUFFERS: 17, // number of buffers registered so far (helpers drain their port up to it)
  SCRATCH: 18, // byte offset of the helper's scratch in the heap, or -1: run the TypeScript kernels
  SIZE: 19,
} as const;

export function runShare(kind: number, A: Float32Array, B: Float32Array, out: Float32Array, M: number, K: number, N: number, lo: number, hi: number,
  wasm?: { kernels: WasmKernels; scratch: number }): void {
  if (wasm && wasm.scratch >= 0) wasm.kernels.share(kind, A, B, out, M, K, N, lo, hi, wasm.scratch);
  else if (kind === 0) matvecF32(A, B, M, K, out, lo, hi);
  else matmulF64Rows(A, B, M, K, N, out, lo, hi);
}

interface Helper { worker: Worker; ctrl: Int32Array; port: MessagePort; seq: number; scratch: Scratch }
interface Scratch { at: number; bytes: number }

export class MatmulPool {
  private readonly helpers: Helper[] = [];
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private nextId = 0;
  private readonly heap = wasmHeap();
  private readonly kernels = this.heap ? new WasmKernels(this.heap.memory) : undefined;
  private readonly scratch: Scratch = { at: -1, bytes: 0 };

  constructor(readonly threads = Math.max(1, Math.min(2, availableParallelism()))) {
    for (let i = 1; i < threads; i++) {
      const ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL.SIZE));
      const { port1, port2 } = new MessageChannel();
      const memory = this.heap?.memory;
      const worker = new Worker(new URL("./matmul-worker.js", import.meta.url), { workerData: { ctrl, port: port2, memory }, transferList: [port2] });
      worker.unref(); // helpers never keep the process alive
      port1.unref();
      this.helpers.push({ worker, ctrl, port: port1, seq: 0, scratch: { at: -1, bytes: 0 } });
    }
  }

  private bufferId(b: SharedArrayBuffer): number {
    let id = this.ids.get(b);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(b, id);
      for (const h of this.helpers) h.port.postMessage({ id, buffer: b });
    }
    return id;
  }

  /** A thread's scratch in the heap, at least `bytes` long (a bigger one replaces a smaller one). */
  private ensure(s: Scratch, bytes: number): number {
    if (s.bytes < bytes) {
      const at = this.heap!.alloc(bytes);
      if (at < 0) return -1;
      s.at = at;
      s.bytes = bytes;
    }
    return s.at;
  }

  /** The ParallelMatmul hook for fastMatmulAccumulate (products.ts). */
  readonly hook: ParallelMatmul = (kind, A, B, M, K, N, out) => {
    if (M * K * N < MIN_WORK) return false;
    const wasm = this.kernels !== undefined && this.heap!.holds(kind === "vec" ? A.buffer : B.buffer);
    if (this.helpers.length === 0 && !wasm) return false;
    if (!(A.buffer instanceof SharedArrayBuffer && B.buffer instanceof SharedArrayBuffer && out.buffer instanceof SharedArrayBuffer)) return false;
    const k = kind === "vec" ? 0 : 1;
    const need = scratchBytes(k, M, K, N);
    const mine = wasm ? this.ensure(this.scratch, need) : -1;
    const total = kind === "vec" ? M : N;
    const parts = this.helpers.length + 1;
    const step = Math.ceil(total / parts);
    const ids = [this.bufferId(A.buffer), this.bufferId(B.buffer), this.bufferId(out.buffer)];
    this.helpers.forEach((h, i) => {
      const c = h.ctrl;
      c[CTRL.KIND] = kind === "vec" ? 0 : 1;
      [A, B, out].forEach((arr, j) => {
        c[CTRL.A + 3 * j] = ids[j];
        c[CTRL.A + 3 * j + 1] = arr.byteOffset / 4;
        c[CTRL.A + 3 * j + 2] = arr.length;
      });
      c[CTRL.M] = M; c[CTRL.K] = K; c[CTRL.N] = N;
      c[CTRL.LO] = Math.min(total, (i + 1) * step);
      c[CTRL.HI] = Math.min(total, (i + 2) * step);
      c[CTRL.BUFFERS] = this.nextId;
      c[CTRL.SCRATCH] = wasm && mine >= 0 ? this.ensure(h.scratch, need) : -1;
      h.seq++;
      Atomics.store(c, CTRL.SEQ, h.seq);
      Atomics.notify(c, CTRL.SEQ);
    });
    runShare(k, A, B, out, M, K, N, 0, Math.min(total, step), this.kernels && { kernels: this.kernels, scratch: mine });
    for (const h of this.helpers) {
      let d: number;
      while ((d = Atomics.load(h.ctrl, CTRL.DONE)) !== h.seq && d !== -h.seq) Atomics.wait(h.ctrl, CTRL.DONE, d, 1000);
      if (d === -h.seq) throw new Error("a matmul helper thread failed");
    }
    return true;
  };

  close(): void {
    for (const h of this.helpers) void h.worker.terminate();
  }
}

let shared: MatmulPool | undefined;
/** One pool per process, made on first use. */
export function matmulPool(): MatmulPool {
  return (shared ??= new MatmulPool());
}
