// A helper thread of interpreter/fast/parallel.ts: waits for a job on the pool's control block
// (spinning for SPIN_MS after the last one when a core is free, then asleep), claims chunks of it until none are left,
// and computes each with the same kernels as the main thread.

import { MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { chunkRange, claim, CTRL, runShare, SPIN_MS } from "./parallel.js";
import { WasmKernels } from "./wasm-kernels.js";

const ctrl = workerData.ctrl as Int32Array;
const index = workerData.index as number;
const port = workerData.port as MessagePort;
const memory = workerData.memory as WebAssembly.Memory | undefined;
const kernels = memory ? new WasmKernels(memory) : undefined;
const buffers: SharedArrayBuffer[] = [];

function view(at: number): Float32Array {
  return new Float32Array(buffers[ctrl[at]], ctrl[at + 1] * 4, ctrl[at + 2]);
}

/** Computes chunks of the current job until none are left (the first one already claimed). */
function work(first: number): void {
  while (buffers.length < ctrl[CTRL.BUFFERS]) {
    const m = receiveMessageOnPort(port);
    if (!m) continue; // posted before the job; it is on its way
    buffers[m.message.id] = m.message.buffer;
  }
  const kind = ctrl[CTRL.KIND], M = ctrl[CTRL.M], K = ctrl[CTRL.K], N = ctrl[CTRL.N], chunk = ctrl[CTRL.CHUNK];
  const A = view(CTRL.A), B = view(CTRL.B), out = view(CTRL.OUT);
  const scratch = ctrl[CTRL.SCRATCH + index];
  const wasm = kernels && { kernels, scratch };
  if (kernels && scratch >= 0) kernels.stage(kind, A, B, M, K, scratch);
  for (let i = first; i >= 0; i = claim(ctrl)) {
    const [lo, hi] = chunkRange(kind, M, N, chunk, i);
    runShare(kind, A, B, out, M, K, N, lo, hi, wasm);
  }
}

/**
 * Spins until SEQ leaves `seen` or SPIN_MS pass; returns SEQ. Spinning pays only while a core is free:
 * on a machine with more runnable threads than cores it takes the main thread's share, and the
 * scheduler then preempts the spinner, which shows as a gap between two polls. After one, the
 * helper sleeps right away for BACKOFF_MS before it spins again.
 */
const BACKOFF_MS = 100, PREEMPTED_MS = 0.2;
let backoffUntil = 0;
function spin(seen: number): number {
  let seq = Atomics.load(ctrl, CTRL.SEQ);
  const t0 = performance.now();
  if (seq !== seen || t0 < backoffUntil) return seq;
  for (let n = 0, t = t0; seq === seen; ) {
    seq = Atomics.load(ctrl, CTRL.SEQ);
    if ((++n & 1023) !== 0) continue;
    const now = performance.now();
    if (now - t > PREEMPTED_MS) { backoffUntil = now + BACKOFF_MS; break; }
    if (now - t0 > SPIN_MS) break;
    t = now;
  }
  return seq;
}

let seen = 0;
for (;;) {
  const seq = spin(seen);
  if (seq === seen) {
    // nothing for a while: sleep until the main thread bumps SEQ (it notifies when SLEEPERS > 0)
    Atomics.add(ctrl, CTRL.SLEEPERS, 1);
    Atomics.wait(ctrl, CTRL.SEQ, seen);
    Atomics.sub(ctrl, CTRL.SLEEPERS, 1);
    continue;
  }
  seen = seq;
  Atomics.add(ctrl, CTRL.ACTIVE, 1);
  try {
    const first = claim(ctrl);
    if (first >= 0) work(first);
  } catch {
    Atomics.store(ctrl, CTRL.FAILED, 1);
  }
  Atomics.sub(ctrl, CTRL.ACTIVE, 1);
  Atomics.notify(ctrl, CTRL.ACTIVE);
}
