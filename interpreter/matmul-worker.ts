// A helper thread of interpreter/parallel.ts: computes its share of a product and raises the flag.

import { parentPort } from "node:worker_threads";
import { MatmulJob, runShare } from "./parallel.js";

parentPort!.on("message", (job: MatmulJob) => {
  try {
    runShare(job);
    Atomics.store(job.done, 0, 1);
  } catch {
    Atomics.store(job.done, 0, 2);
  }
  Atomics.notify(job.done, 0);
});
