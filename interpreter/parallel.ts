// Helper threads for the interpreter's large f32 matrix products. The main thread writes a job
// into a shared control block and wakes a helper with Atomics.notify (no message per job: each
// shared buffer is sent to the helpers once), computes its own share, then waits for the helper's
// flag. Shares split the output, never the sum, so the result is bit-identical to one thread.
// Products too small to repay the hand-off stay on the main thread.

import { availableParallelism } from "node:os";
import { MessageChannel, MessagePort, Worker } from "node:worker_threads";
import { ParallelMatmul, matmulF64Rows, matvecF32 } from "./ops.js";

const MIN_WORK = 1 << 17; // multiply-adds below which one thread is faster

/** Layout of a helper's control block (Int32Array over a SharedArrayBuffer). */
export const CTRL = {
  SEQ: 0, // bumped by the main thread for every job
  DONE: 1, // the helper stores the SEQ it finished (negative: failed)
  KIND: 2, // 0 vec, 1 rows
  A: 3, B: 6, OUT: 9, // [buffer id, element offset, length] each
  M: 12, K: 13, N: 14, LO: 15, HI: 16,
  BUFFERS: 17, // number of buffers registered so far (helpers drain their port up to it)
  SIZE: 18,
} as const;

export function runShare(kind: number, A: Float32Array, B: Float32Array, out: Float32Array, M: number, K: number, N: number, lo: number, hi: number): void {
  if (kind === 0) matvecF32(A, B, M, K, out, lo, hi);
  else matmulF64Rows(A, B, M, K, N, out, lo, hi);
}

interface Helper { worker: Worker; ctrl: Int32Array; port: MessagePort; seq: number }

export class MatmulPool {
  private readonly helpers: Helper[] = [];
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private nextId = 0;

  constructor(readonly threads = Math.max(1, Math.min(2, availableParallelism()))) {
    for (let i = 1; i < threads; i++) {
      const ctrl = new Int32Array(new SharedArrayBuffer(4 * CTRL.SIZE));
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(new URL("./matmul-worker.js", import.meta.url), { workerData: { ctrl, port: port2 }, transferList: [port2] });
      worker.unref(); // helpers never keep the process alive
      port1.unref();
      this.helpers.push({ worker, ctrl, port: port1, seq: 0 });
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

  /** The ParallelMatmul hook for ops.matmulAccumulate. */
  readonly hook: ParallelMatmul = (kind, A, B, M, K, N, out) => {
    if (this.helpers.length === 0 || M * K * N < MIN_WORK) return false;
    if (!(A.buffer instanceof SharedArrayBuffer && B.buffer instanceof SharedArrayBuffer && out.buffer instanceof SharedArrayBuffer)) return false;
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
      h.seq++;
      Atomics.store(c, CTRL.SEQ, h.seq);
      Atomics.notify(c, CTRL.SEQ);
    });
    runShare(kind === "vec" ? 0 : 1, A, B, out, M, K, N, 0, Math.min(total, step));
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
