// Helper threads for the interpreter's large f32 matrix products (products.ts). The main thread writes a job
// into a shared control block, cuts its output into chunks (column ranges of a matrix product, row ranges
// of a matrix×vector product), and every thread, the main one included, claims chunks from one atomic
// counter until none are left. Chunks split the output, never the sum, so the result is bit-identical
// to one thread. A helper that is slow to wake (a busy machine) costs nothing: the main thread takes
// its chunks. Helpers spin for a while after a job before they sleep, so a decode step's products,
// which come every few hundred microseconds, find them awake and need no wake-up call. Products too
// small to repay the hand-off stay on the main thread. When the large operand (a weight) lives in the
// WebAssembly heap (wasm-kernels.ts), every thread computes its chunks with the WebAssembly twins of
// the same kernels, bit-identical and about five times faster.

import { availableParallelism } from "node:os";
import { MessageChannel, MessagePort, Worker } from "node:worker_threads";
import { matmulF64Rows, matvecF32, ParallelMatmul } from "./products.js";
import { scratchBytes, WasmKernels, wasmHeap } from "./wasm-kernels.js";

const MIN_WORK = 1 << 17; // multiply-adds below which one thread is faster
// Chunks per thread. A column range of a matrix product reads a strip of every row of the weight,
// and strips narrower than about half a row stream from memory markedly slower (measured: a
// 3072×768 product at 8 GB/s in one range, 6 in two, 3 in eight), so those are cut once per thread;
// a row range of a matrix×vector product is contiguous and is cut finer, for balance.
const PER_THREAD = { vec: 8, rows: 1 };
const MAX_CHUNKS = 255; // (the counter's low byte)
/** How long a helper spins for the next job before it sleeps (ms). */
export const SPIN_MS = 2;

/**
 * Layout of the pool's control block (Int32Array over a SharedArrayBuffer), shared by all threads.
 * NEXT packs the job's number (high bits) with the chunks left to claim (low byte): a claim is a
 * compare-and-swap that lowers the count, so a helper late for one job can never claim a chunk of
 * another with stale parameters; parameters are written before NEXT and not changed again until
 * ACTIVE (threads between their first claim attempt and their last chunk) is back to zero.
 */
export const CTRL = {
  SEQ: 0, // bumped by the main thread for every job (helpers wait on it)
  SLEEPERS: 1, // helpers asleep on SEQ (the main thread notifies only when there are some)
  ACTIVE: 2, // helpers working on the current job
  NEXT: 3, // job number << 8 | chunks left
  FAILED: 4, // set by a helper whose chunk threw
  KIND: 5, // 0 vec, 1 rows
  A: 6, B: 9, OUT: 12, // [buffer id, element offset, length] each
  M: 15, K: 16, N: 17,
  CHUNK: 18, // rows (kind 0) or columns (kind 1) per chunk
  BUFFERS: 19, // number of buffers registered so far (helpers drain their port up to it)
  SCRATCH: 20, // one per helper: byte offset of its scratch in the heap, or -1: run the TypeScript kernels
} as const;

/** Claims one chunk of the current job: its index, or -1 when none is left. */
export function claim(ctrl: Int32Array): number {
  for (;;) {
    const v = Atomics.load(ctrl, CTRL.NEXT), left = v & 0xff;
    if (left === 0) return -1;
    if (Atomics.compareExchange(ctrl, CTRL.NEXT, v, v - 1) === v) return left - 1;
  }
}

/** The range [lo, hi) of chunk `c`: rows (kind 0, of M) or columns (kind 1, of N). */
export function chunkRange(kind: number, M: number, N: number, chunk: number, c: number): [number, number] {
  const total = kind === 0 ? M : N;
  return [Math.min(total, c * chunk), Math.min(total, (c + 1) * chunk)];
}

export function runShare(kind: number, A: Float32Array, B: Float32Array, out: Float32Array, M: number, K: number, N: number, lo: number, hi: number,
  wasm?: { kernels: WasmKernels; scratch: number }): void {
  if (wasm && wasm.scratch >= 0) wasm.kernels.range(kind, A, B, out, M, K, N, lo, hi, wasm.scratch);
  else if (kind === 0) matvecF32(A, B, M, K, out, lo, hi);
  else matmulF64Rows(A, B, M, K, N, out, lo, hi);
}

interface Helper { worker: Worker; port: MessagePort; scratch: Scratch }
interface Scratch { at: number; bytes: number }

export class MatmulPool {
  private readonly helpers: Helper[] = [];
  private readonly ctrl: Int32Array;
  private readonly ids = new WeakMap<SharedArrayBuffer, number>();
  private nextId = 0;
  private seq = 0;
  private readonly heap = wasmHeap();
  private readonly kernels = this.heap ? new WasmKernels(this.heap.memory) : undefined;
  private readonly scratch: Scratch = { at: -1, bytes: 0 };

  constructor(readonly threads = Math.max(1, Math.min(2, availableParallelism()))) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * (CTRL.SCRATCH + Math.max(0, threads - 1))));
    for (let i = 1; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      const memory = this.heap?.memory;
      const worker = new Worker(new URL("./matmul-worker.js", import.meta.url), { workerData: { ctrl: this.ctrl, index: i - 1, port: port2, memory }, transferList: [port2] });
      worker.unref(); // helpers never keep the process alive
      port1.unref();
      this.helpers.push({ worker, port: port1, scratch: { at: -1, bytes: 0 } });
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
    const total = k === 0 ? M : N;
    // chunks a multiple of 8 rows or columns wide
    const chunks = Math.max(1, Math.min(MAX_CHUNKS, PER_THREAD[kind] * this.threads, Math.ceil(total / 8)));
    const chunk = Math.ceil(total / chunks / 8) * 8, count = Math.ceil(total / chunk);
    const c = this.ctrl;
    if (this.helpers.length > 0) {
      // ACTIVE is 0 here (the last job waited for it), so no helper reads these until NEXT is set
      c[CTRL.KIND] = k;
      const ids = [this.bufferId(A.buffer), this.bufferId(B.buffer), this.bufferId(out.buffer)];
      [A, B, out].forEach((arr, j) => {
        c[CTRL.A + 3 * j] = ids[j];
        c[CTRL.A + 3 * j + 1] = arr.byteOffset / 4;
        c[CTRL.A + 3 * j + 2] = arr.length;
      });
      c[CTRL.M] = M; c[CTRL.K] = K; c[CTRL.N] = N; c[CTRL.CHUNK] = chunk;
      c[CTRL.BUFFERS] = this.nextId;
      this.helpers.forEach((h, i) => { c[CTRL.SCRATCH + i] = wasm && mine >= 0 ? this.ensure(h.scratch, need) : -1; });
      this.seq = (this.seq + 1) & 0x7fffff;
      Atomics.store(c, CTRL.NEXT, (this.seq << 8) | count);
      Atomics.store(c, CTRL.SEQ, this.seq);
      if (Atomics.load(c, CTRL.SLEEPERS) > 0) Atomics.notify(c, CTRL.SEQ);
    } else {
      Atomics.store(c, CTRL.NEXT, count);
    }
    const own = this.kernels && { kernels: this.kernels, scratch: mine };
    if (own && mine >= 0) own.kernels.stage(k, A, B, M, K, mine);
    for (let i; (i = claim(c)) >= 0; ) {
      const [lo, hi] = chunkRange(k, M, N, chunk, i);
      runShare(k, A, B, out, M, K, N, lo, hi, own);
    }
    // the chunks helpers claimed are being computed now: spin briefly, then sleep (a helper that was
    // preempted needs the core more than a spinning main thread does)
    const t0 = performance.now();
    for (let a, n = 0; (a = Atomics.load(c, CTRL.ACTIVE)) !== 0; ) {
      if ((++n & 255) === 0 && performance.now() - t0 > 0.05) Atomics.wait(c, CTRL.ACTIVE, a, 1);
    }
    if (Atomics.load(c, CTRL.FAILED)) {
      Atomics.store(c, CTRL.FAILED, 0);
      throw new Error("a matmul helper thread failed");
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
