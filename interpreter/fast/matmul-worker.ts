// A helper thread of interpreter/fast/parallel.ts: sleeps on its control block, computes its share of
// each product, and stores the job's sequence number when done.

import { MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { CTRL, runShare } from "./parallel.js";
import { WasmKernels } from "./wasm-kernels.js";

const ctrl = workerData.ctrl as Int32Array;
const port = workerData.port as MessagePort;
const memory = workerData.memory as WebAssembly.Memory | undefined;
const kernels = memory ? new WasmKernels(memory) : undefined;
const buffers: SharedArrayBuffer[] = [];

function view(at: number): Float32Array {
  return new Float32Array(buffers[ctrl[at]], ctrl[at + 1] * 4, ctrl[at + 2]);
}

let seen = 0;
for (;;) {
  Atomics.wait(ctrl, CTRL.SEQ, seen);
  const seq = Atomics.load(ctrl, CTRL.SEQ);
  if (seq === seen) continue;
  seen = seq;
  try {
    while (buffers.length < ctrl[CTRL.BUFFERS]) {
      const m = receiveMessageOnPort(port);
      if (!m) continue; // posted before the job; it is on its way
      buffers[m.message.id] = m.message.buffer;
    }
    runShare(ctrl[CTRL.KIND], view(CTRL.A), view(CTRL.B), view(CTRL.OUT), ctrl[CTRL.M], ctrl[CTRL.K], ctrl[CTRL.N], ctrl[CTRL.LO], ctrl[CTRL.HI],
      kernels && { kernels, scratch: ctrl[CTRL.SCRATCH] });
    Atomics.store(ctrl, CTRL.DONE, seq);
  } catch {
    Atomics.store(ctrl, CTRL.DONE, -seq);
  }
  Atomics.notify(ctrl, CTRL.DONE);
}
