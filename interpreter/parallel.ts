// Helper threads for the interpreter's large f32 matrix products. The main thread posts a share
// of a product to each helper (operands in SharedArrayBuffer memory), computes its own share, and
// waits on an Atomics flag. Shares split the output, never the sum, so the result is bit-identical
// to one thread. Products too small to repay a message (~20 µs) stay on the main thread.

import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { ParallelMatmul, matmulF64Rows, matvecF32 } from "./ops.js";

const MIN_WORK = 1 << 18; // multiply-adds below which one thread is faster

export interface MatmulJob {
  kind: "vec" | "rows";
  A: Float32Array; B: Float32Array; out: Float32Array;
  M: number; K: number; N: number;
  lo: number; hi: number; // output rows (vec) or columns (rows)
  done: Int32Array; // [0] = 0 pending, 1 done, 2 failed
}

export function runShare(j: Pick<MatmulJob, "kind" | "A" | "B" | "out" | "M" | "K" | "N" | "lo" | "hi">): void {
  if (j.kind === "vec") matvecF32(j.A, j.B, j.M, j.K, j.out, j.lo, j.hi);
  else matmulF64Rows(j.A, j.B, j.M, j.K, j.N, j.out, j.lo, j.hi);
}

const isShared = (a: Float32Array) => a.buffer instanceof SharedArrayBuffer;

export class MatmulPool {
  private readonly workers: Worker[] = [];
  private readonly flags: Int32Array[] = [];

  constructor(readonly threads = Math.max(1, Math.min(2, availableParallelism()))) {
    for (let i = 1; i < threads; i++) {
      const w = new Worker(new URL("./matmul-worker.js", import.meta.url));
      w.unref(); // helpers never keep the process alive
      this.workers.push(w);
      this.flags.push(new Int32Array(new SharedArrayBuffer(4)));
    }
  }

  /** The ParallelMatmul hook for ops.matmulAccumulate. */
  readonly hook: ParallelMatmul = (kind, A, B, M, K, N, out) => {
    if (this.workers.length === 0 || M * K * N < MIN_WORK || !isShared(A) || !isShared(B) || !isShared(out)) return false;
    const total = kind === "vec" ? M : N;
    const parts = this.workers.length + 1;
    const step = Math.ceil(total / parts);
    this.workers.forEach((w, i) => {
      const lo = (i + 1) * step, hi = Math.min(total, lo + step);
      Atomics.store(this.flags[i], 0, 0);
      if (lo < hi) w.postMessage({ kind, A, B, out, M, K, N, lo, hi, done: this.flags[i] });
      else Atomics.store(this.flags[i], 0, 1);
    });
    runShare({ kind, A, B, out, M, K, N, lo: 0, hi: Math.min(total, step) });
    for (const f of this.flags) {
      while (Atomics.load(f, 0) === 0) Atomics.wait(f, 0, 0, 1000);
      if (Atomics.load(f, 0) === 2) throw new Error("a matmul helper thread failed");
    }
    return true;
  };

  close(): void {
    for (const w of this.workers) void w.terminate();
  }
}

let shared: MatmulPool | undefined;
/** One pool per process, made on first use. */
export function matmulPool(): MatmulPool {
  return (shared ??= new MatmulPool());
}
