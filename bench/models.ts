// GPT-2 124M (seeded random weights) in DSL kernels against HF transformers, side by side in one
// run, with the memory-bandwidth bound measured in the same run. Prints ratios, never pass/fail.
//   node dist/bench/models.js [--interp-tokens N] [--skip-interp]

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { CausalLM, REPO_ROOT } from "../models/causal-lm.js";
import { CACHE, ensureModel, PYTHON } from "../models/zoo.js";

const PROMPT = 16, NEW = 64, PREFILL = 128, THREADS = 2;
const args = process.argv.slice(2);
const interpTokens = Number(args[args.indexOf("--interp-tokens") + 1]) || 8;

function streamBandwidth(): number {
  const exe = join(CACHE, "bench", "stream");
  if (!existsSync(exe)) {
    mkdirSync(join(CACHE, "bench"), { recursive: true });
    const r = spawnSync("g++", ["-O3", "-march=native", "-fopenmp", join(REPO_ROOT, "bench", "stream.cpp"), "-o", exe], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  }
  const r = spawnSync(exe, ["1024"], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(THREADS) } });
  return JSON.parse(r.stdout).read_GBps;
}

function hfTiming(hfDir: string) {
  const r = spawnSync(PYTHON, [join(REPO_ROOT, "bench", "hf_timing.py"), hfDir, String(THREADS), String(PROMPT), String(NEW), String(PREFILL)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

async function dslTiming(dir: string, backend: "interp" | "eigen", newTokens: number) {
  const m = await CausalLM.load(dir, { backend, log: () => {} });
  const prompt = Array.from({ length: PROMPT }, (_, i) => 100 + i);
  m.prefill(prompt); // warm-up (and the compile, for eigen)
  m.prefill(prompt);
  const steps: number[] = [];
  for (let i = 0; i < newTokens; i++) {
    const t = performance.now();
    m.decode(200 + i);
    steps.push(performance.now() - t);
  }
  const pre = Array.from({ length: PREFILL }, (_, i) => 100 + i);
  const times: number[] = [];
  for (let r = 0; r < (backend === "eigen" ? 3 : 1); r++) {
    const t = performance.now();
    m.prefill(pre);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { decode_ms_per_token: steps.reduce((a, b) => a + b, 0) / steps.length, prefill_ms: times[Math.floor(times.length / 2)] };
}

const model = ensureModel("gpt2-124m-random");
const weightBytes = 124_439_808 * 4; // GPT-2 124M parameters in f32 (wte read once, as the LM head)
const bw = streamBandwidth();
const bound = (weightBytes / 1e9 / bw) * 1000;
console.log(`machine: ${THREADS} threads; streaming read ${bw.toFixed(1)} GB/s → f32 decode bound ${bound.toFixed(1)} ms/token`);
const hf = hfTiming(model.hf);
const eigen = await dslTiming(model.dsl, "eigen", NEW);
const rows: [string, number, number][] = [["HF transformers (torch " + hf.torch + ")", hf.decode_ms_per_token, hf.prefill_ms], ["DSL eigen f32", eigen.decode_ms_per_token, eigen.prefill_ms]];
if (!args.includes("--skip-interp")) {
  const interp = await dslTiming(model.dsl, "interp", interpTokens);
  rows.push(["DSL interpreter f32", interp.decode_ms_per_token, interp.prefill_ms]);
}
console.log(`\n${"".padEnd(34)} ${"decode ms/tok".padStart(13)} ${"× HF".padStart(7)} ${"× bound".padStart(8)} ${`prefill ${PREFILL} ms`.padStart(16)} ${"× HF".padStart(7)}`);
for (const [name, dec, pre] of rows) {
  console.log(`${name.padEnd(34)} ${dec.toFixed(1).padStart(13)} ${(dec / hf.decode_ms_per_token).toFixed(2).padStart(7)} ${(dec / bound).toFixed(2).padStart(8)} ${pre.toFixed(0).padStart(16)} ${(pre / hf.prefill_ms).toFixed(2).padStart(7)}`);
}
