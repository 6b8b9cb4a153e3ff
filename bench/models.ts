// GPT-2 124M, or a Llama of the same width and depth (--model llama), with seeded random weights, in
// DSL kernels against HF transformers, side by side in one run, with the memory-bandwidth bound
// measured in the same run. Prints ratios, never pass/fail.
// Rows: HF f32, DSL eigen f32, f16, bf16 and int8 weights (converted by python-ref on first use), the
// interpreter (unless --skip-interp), and llama.cpp on GGUF files of the same HF model in f32, f16,
// bf16 and q8_0 (bench/llamacpp.ts: the prebuilt node-llama-cpp binaries and a GGML_NATIVE build of
// the same source; each DSL row is set against the faster of the two for its dtype, int8 against
// q8_0). Each decode figure is also set against its own weight-bytes bound.
//   node dist/bench/models.js [--model gpt2|llama] [--repeat N] [--interp-tokens N] [--skip-interp]
//     [--skip-f16] [--skip-bf16] [--skip-int8] [--skip-llamacpp] [--skip-llamacpp-native]

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BackendName, CausalLM, REPO_ROOT } from "../models/causal-lm.js";
import { CACHE, ensureConversion, ensureModel, PYTHON, ZooModel } from "../models/zoo.js";
import { ensureLlamaPackage, ensureNativeBuild, GGUF_DTYPES, ggufOf, nativeInfo, prebuiltInfo, timeNative, timePrebuilt } from "./llamacpp.js";

// DEEP: decode steps after a DEEP-token context, where attention over the cache is a visible share
const PROMPT = 16, NEW = 64, PREFILL = 128, DEEP = 960, DEEP_STEPS = 16, THREADS = 2;
const args = process.argv.slice(2);
const interpTokens = Number(args[args.indexOf("--interp-tokens") + 1]) || 8;
const repeat = args.includes("--repeat") ? Math.max(1, Number(args[args.indexOf("--repeat") + 1]) || 1) : 3;

function streamBandwidth(): number {
  const src = join(REPO_ROOT, "bench", "stream.cpp");
  const exe = join(CACHE, "bench", `stream-${createHash("sha256").update(readFileSync(src)).digest("hex").slice(0, 12)}`);
  if (!existsSync(exe)) {
    mkdirSync(join(CACHE, "bench"), { recursive: true });
    const r = spawnSync("g++", ["-O3", "-march=native", "-fopenmp", src, "-o", exe], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(r.stderr);
  }
  const r = spawnSync(exe, ["1024"], { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(THREADS) } });
  return JSON.parse(r.stdout).read_GBps;
}

function hfTiming(hfDir: string) {
  const r = spawnSync(PYTHON, [join(REPO_ROOT, "bench", "hf_timing.py"), hfDir, String(THREADS), String(PROMPT), String(NEW), String(PREFILL), String(DEEP), String(DEEP_STEPS)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(r.stderr);
  const t = JSON.parse(r.stdout.trim().split("\n").pop()!);
  return { ...t, decode_deep_ms: t.decode_deep_ms ?? NaN };
}

const described = new Set<string>();
/** One DSL row: decode steps, then the median of `prefillRounds` prefills (the interpreter's are slow: one). */
async function dslTiming(dir: string, backend: BackendName, newTokens: number, prefillRounds = 3) {
  const m = await CausalLM.load(dir, { backend, log: () => {} });
  described.add(m.describe());
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
  for (let r = 0; r < prefillRounds; r++) {
    const t = performance.now();
    m.prefill(pre);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  // decode after DEEP positions (the interpreter, whose steps take ~0.1 s: not measured)
  let deep = NaN;
  if (backend !== "interp") {
    m.prefill(Array.from({ length: DEEP }, (_, i) => 100 + (i % 5000)));
    const t = performance.now();
    for (let i = 0; i < DEEP_STEPS; i++) m.decode(300 + i);
    deep = (performance.now() - t) / DEEP_STEPS;
  }
  return { decode_ms_per_token: steps.reduce((a, b) => a + b, 0) / steps.length, prefill_ms: times[Math.floor(times.length / 2)], decode_deep_ms: deep };
}

/** The same HF model converted to another dtype (cached next to the f32 folder, made again when convert changes). */
const converted = (m: ZooModel, dtype: string): string => ensureConversion(m, dtype, ["--dtype", dtype]);

/** The bench's models: the zoo name, and the weights one decode step reads (the bound's numerator). */
const MODELS: Record<string, { zoo: string; params: number; what: string }> = {
  // all 124,439,808 parameters: wte is read whole once per token, as the tied LM head (wpe: one row)
  gpt2: { zoo: "gpt2-124m-random", params: 124_439_808, what: "GPT-2 124M" },
  // 152,711,424 less the embedding table (one row read per token); the untied head is read whole
  llama: { zoo: "llama-153m-random", params: 152_711_424 - 50_257 * 768, what: "Llama 153M (768 wide, 12 layers, 12 heads / 4 kv heads, SwiGLU 2048, untied)" },
};
const modelArg = args.includes("--model") ? args[args.indexOf("--model") + 1] : "gpt2";
if (!(modelArg in MODELS)) {
  console.error(`--model ${modelArg}: expected one of ${Object.keys(MODELS).join(", ")}`);
  process.exit(2);
}
const model = ensureModel(MODELS[modelArg].zoo);
const PARAMS = MODELS[modelArg].params;
const bw = streamBandwidth();
const boundMs = (bytesPerParam: number) => ((PARAMS * bytesPerParam) / 1e9 / bw) * 1000;
const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`model: ${MODELS[modelArg].what}, seeded random weights (${model.hf})`);
console.log(`machine: ${THREADS} threads, load average ${load}; streaming read ${bw.toFixed(1)} GB/s → decode bound f32 ${boundMs(4).toFixed(1)} ms/token, bf16 ${boundMs(2).toFixed(1)}, int8 ${boundMs(1).toFixed(1)}`);

// llama.cpp: the bench-only package (installed here, never by npm start/test) and the native build.
const withLlama = !args.includes("--skip-llamacpp");
let nativeBench: string | null = null;
if (withLlama) {
  const err = ensureLlamaPackage();
  if (err) throw new Error(`${err}; rerun with --skip-llamacpp to bench without llama.cpp`);
  if (!args.includes("--skip-llamacpp-native")) {
    const b = ensureNativeBuild();
    if ("error" in b) console.log(`llama.cpp native build unavailable (${b.error}); prebuilt rows only`);
    else nativeBench = b.bench;
  }
}
// bytes per weight of each GGUF type (q8_0: 32 int8 + one f16 scale per 32)
const GGUF_BYTES: Record<string, number> = { f32: 4, f16: 2, bf16: 2, q8_0: 34 / 32 };
const DSL_PAIR: Record<string, string> = { "DSL eigen f32": "f32", "DSL eigen f16 weights": "f16", "DSL eigen bf16 weights": "bf16", "DSL eigen int8 weights": "q8_0", "DSL interpreter f32": "f32" };

// Every row is measured in each of `repeat` rounds, HF, the DSL and llama.cpp interleaved, and each
// figure is the best round's: the machine is shared, and a neighbour's burst should not decide a ratio.
type Row = { name: string; decode: number; prefill: number; deep: number; bound: number };
const rows = new Map<string, Row>();
// a figure that could not be measured is NaN; the best of the others is kept, and why is said once
const failures = new Set<string>();
const least = (a: number, b: number) => (Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.min(a, b));
const keep = (name: string, t: { decode_ms_per_token: number; prefill_ms: number; decode_deep_ms: number; failed?: string[] }, bound: number) => {
  for (const f of t.failed ?? []) failures.add(`${name}, ${f}`);
  const r = rows.get(name);
  if (!r) rows.set(name, { name, decode: t.decode_ms_per_token, prefill: t.prefill_ms, deep: t.decode_deep_ms, bound });
  else { r.decode = least(r.decode, t.decode_ms_per_token); r.prefill = least(r.prefill, t.prefill_ms); r.deep = least(r.deep, t.decode_deep_ms); }
};
const llamaRows = async (dtype: string) => {
  if (!withLlama) return;
  const file = ggufOf(model.hf, dtype as (typeof GGUF_DTYPES)[number]);
  keep(`llama.cpp ${dtype} (prebuilt)`, await timePrebuilt(file, PROMPT, NEW, PREFILL, THREADS, DEEP, DEEP_STEPS), boundMs(GGUF_BYTES[dtype]));
  if (nativeBench) keep(`llama.cpp ${dtype} (native)`, timeNative(nativeBench, file, NEW, PREFILL, THREADS, 1, DEEP, DEEP_STEPS), boundMs(GGUF_BYTES[dtype]));
};
let torchVersion = "";
for (let round = 0; round < repeat; round++) {
  const hf = hfTiming(model.hf);
  torchVersion = hf.torch;
  keep("HF transformers f32", hf, boundMs(4));
  keep("DSL eigen f32", await dslTiming(model.dsl, "eigen", NEW), boundMs(4));
  await llamaRows("f32");
  if (!args.includes("--skip-f16")) {
    keep("DSL eigen f16 weights", await dslTiming(converted(model, "f16"), "eigen", NEW), boundMs(2));
    await llamaRows("f16");
  }
  if (!args.includes("--skip-bf16")) {
    keep("DSL eigen bf16 weights", await dslTiming(converted(model, "bf16"), "eigen", NEW), boundMs(2));
    await llamaRows("bf16");
  }
  // int8 weights + f32 per-channel scales (the scales and biases are < 0.1% of the bytes)
  if (!args.includes("--skip-int8")) {
    keep("DSL eigen int8 weights", await dslTiming(converted(model, "int8"), "eigen", NEW), boundMs(1));
    await llamaRows("q8_0");
  }
  if (!args.includes("--skip-interp")) keep("DSL interpreter f32", await dslTiming(model.dsl, "interp", interpTokens, 1), boundMs(4));
}
const hfRow = rows.get("HF transformers f32")!;
hfRow.name += ` (torch ${torchVersion})`;
/** The faster llama.cpp build for a dtype, per figure (a user who cares picks the faster one). */
const llamaBest = (dtype: string) => {
  const c = [rows.get(`llama.cpp ${dtype} (prebuilt)`), rows.get(`llama.cpp ${dtype} (native)`)].filter((r): r is Row => !!r);
  return c.length ? { decode: c.map((r) => r.decode).reduce(least), prefill: c.map((r) => r.prefill).reduce(least), deep: c.map((r) => r.deep).reduce(least) } : null;
};
console.log(`back ends: ${[...described].join("; ")}; TENSORCORE_THREADS=${process.env.TENSORCORE_THREADS ?? "(default)"}; load average now ${readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
if (withLlama) console.log(`llama.cpp prebuilt (node-llama-cpp 3.21.1): ${await prebuiltInfo()}`);
if (nativeBench) console.log(`llama.cpp native (GGML_NATIVE): ${nativeInfo(nativeBench, ggufOf(model.hf, "q8_0"))}`);
const f = (x: number | undefined, d = 2) => (x === undefined || Number.isNaN(x) ? "" : x.toFixed(d));
console.log(`\n${"".padEnd(40)} ${"decode ms/tok".padStart(13)} ${"× HF".padStart(7)} ${"× bound".padStart(8)} ${"× llama".padStart(8)} ${`prefill ${PREFILL} ms`.padStart(16)} ${"× HF".padStart(7)} ${"× llama".padStart(8)} ${`decode @${DEEP}`.padStart(12)} ${"× HF".padStart(7)} ${"× llama".padStart(8)}`);
for (const { name, decode: dec, prefill: pre, deep, bound } of rows.values()) {
  const l = DSL_PAIR[name] ? llamaBest(DSL_PAIR[name]) : null;
  console.log(`${name.padEnd(40)} ${f(dec, 1).padStart(13)} ${f(dec / hfRow.decode).padStart(7)} ${f(dec / bound).padStart(8)} ${f(l ? dec / l.decode : undefined).padStart(8)} ${f(pre, 0).padStart(16)} ${f(pre / hfRow.prefill).padStart(7)} ${f(l ? pre / l.prefill : undefined).padStart(8)} ${f(deep, 1).padStart(12)} ${f(deep / hfRow.deep).padStart(7)} ${f(l ? deep / l.deep : undefined).padStart(8)}`);
}
for (const f of failures) console.log(`(not measured: ${f}; that figure is left out, and the other build's stands)`);
console.log(`(decode @${DEEP}: mean of ${DEEP_STEPS} steps after a ${DEEP}-token context, where attention over the cache weighs; not measured on the interpreter)`);
console.log(`(best of ${repeat} interleaved rounds per figure; --repeat N. × llama: against the faster llama.cpp build of the same dtype, int8 against q8_0)`);
