// Execute round trip of the kernel process: `1 + 1`, from sending execute_request to receiving
// status: idle, over real sockets, after a first cell has warmed the worker. Median of N runs.
//   node dist/bench/kernel.js [N]        (fails when the median is 20 ms or more)

import { KernelClient } from "../kernel/client.js";

const N = Number(process.argv[2] ?? 200);
const k = await KernelClient.start();
try {
  await k.execute("type V = Tensor<f32, {4}>;\nV x;\nx = 1;\nx");
  for (let i = 0; i < 20; i++) await k.execute("1 + 1"); // warm-up
  const times: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    const r = await k.execute("1 + 1");
    times.push(performance.now() - t0);
    if (r.reply.content.status !== "ok") throw new Error("execute failed");
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(N / 2)], p90 = times[Math.floor(N * 0.9)];
  console.log(`kernel execute round trip (1 + 1, request to idle): median ${median.toFixed(2)} ms, p90 ${p90.toFixed(2)} ms, min ${times[0].toFixed(2)} ms over ${N} runs`);
  if (median >= 20) { console.error("FAIL: the median round trip must be under 20 ms"); process.exitCode = 1; }
} finally {
  await k.close();
}
