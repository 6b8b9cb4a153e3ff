// Accuracy of the DSL models in each weight precision against HF transformers f32, in one run:
// logits max-abs-diff over every position of 20 prompts, top-1 agreement over those positions, and
// the perplexity of a held-out text (a passage of /usr/share/games/fortunes, tokenized with the
// model's GPT-2 BPE) from the DSL's logits vs from HF's. The DSL logits of every position come from
// the model's own kernels, position by position (prefill of the first token, then decode steps with
// the KV cache: teacher forcing); HF runs each sequence in one f32 forward.
//   node dist/bench/accuracy.js [--skip-124m] [--backend eigen|interp] [--dtypes f32,bf16,f16,int8]
//
// Models: the embedded model (trained; its HF form is rebuilt from models/embedded by python-ref
// `make-model embedded`, then converted to each dtype) and gpt2-124m-random (seeded random weights:
// its next-token distributions are nearly uniform, so top-1 and perplexity say little there).

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BackendName, CausalLM } from "../models/causal-lm.js";
import { Gpt2Tokenizer } from "../models/tokenizer.js";
import { CACHE, ensureConversion, ensureModel, PYTHON, ZooModel } from "../models/zoo.js";
import { parseNpy } from "../runtime/weights.js";
import { REPO_ROOT } from "../models/causal-lm.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : def);
const backend = opt("--backend", "eigen") as BackendName;
const dtypes = opt("--dtypes", "f32,bf16,f16,int8").split(",");

const PROMPTS = [
  "The meaning of life is", "Hello, my dog is cute and", "In 1492, Columbus sailed the ocean blue; afterwards",
  "Once upon a time there was", "The quick brown fox jumps over", "My favourite programming language is",
  "The weather today is", "She opened the door and saw", "Computers are useful because",
  "The capital of France is", "Water boils at one hundred", "I think, therefore", "He said that the train",
  "A long time ago in a galaxy", "To be or not to be, that", "The best way to learn is to",
  "It was a dark and stormy night;", "Scientists have discovered that", "The recipe calls for two cups of",
  "Why did the chicken cross the road?",
];

/** A held-out passage: fortunes from one file, joined until the model's context is full. */
function heldOutText(): string {
  const f = "/usr/share/games/fortunes/computers";
  if (!existsSync(f)) return "The quick brown fox jumps over the lazy dog. ".repeat(20);
  return readFileSync(f, "utf8").split("\n%\n").slice(40, 60).join("\n\n");
}

function py(argv: string[]): string {
  const r = spawnSync(PYTHON, argv, { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`python ${argv.join(" ")} failed:\n${r.stderr}`);
  return r.stdout;
}

/** m's HF folder converted to dtype, beside m.dsl (dsl-DTYPE), made again when convert changes. */
const converted = (m: ZooModel, dtype: string): string => ensureConversion(m, dtype, ["--dtype", dtype]);

function embeddedHf(): string {
  const hf = join(CACHE, "accuracy", "embedded-hf");
  if (!existsSync(join(hf, "config.json"))) py(["-m", "tensorcore_ref", "make-model", "embedded", "--out", hf]);
  return hf;
}

function hfLogits(hf: string, seqs: number[][], tag: string): Float32Array[] {
  const dir = join(CACHE, "accuracy", `hf-logits-${tag}`);
  mkdirSync(dir, { recursive: true });
  const seqFile = join(dir, "sequences.json");
  const want = JSON.stringify(seqs);
  if (!existsSync(seqFile) || readFileSync(seqFile, "utf8") !== want || readdirSync(dir).length < seqs.length + 1) {
    writeFileSync(join(dir, "..", `${tag}-seqs.json`), want);
    py([join(REPO_ROOT, "bench", "hf_logits.py"), hf, join(dir, "..", `${tag}-seqs.json`), dir]);
    writeFileSync(seqFile, want);
  }
  return seqs.map((_, i) => {
    const r = parseNpy(readFileSync(join(dir, `seq${i}.npy`)), "hf logits");
    const b = r.bytes;
    return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  });
}

/** Logits of every position of `ids`: prefill of the first token, then one decode step per token. */
function dslLogits(m: CausalLM, ids: number[]): Float32Array {
  const V = m.vocab, out = new Float32Array(ids.length * V);
  out.set(m.prefill([ids[0]]), 0);
  for (let t = 1; t < ids.length; t++) out.set(m.decode(ids[t]), t * V);
  return out;
}

const argmaxRow = (a: Float32Array, off: number, V: number) => { let b = off; for (let i = off + 1; i < off + V; i++) if (a[i] > a[b]) b = i; return b - off; };
/** −log softmax(row)[target], in double. */
function nll(a: Float32Array, off: number, V: number, target: number): number {
  let m = -Infinity;
  for (let i = 0; i < V; i++) m = Math.max(m, a[off + i]);
  let s = 0;
  for (let i = 0; i < V; i++) s += Math.exp(a[off + i] - m);
  return Math.log(s) + m - a[off + target];
}
const perplexity = (a: Float32Array, ids: number[], V: number) => {
  let s = 0;
  for (let t = 0; t + 1 < ids.length; t++) s += nll(a, t * V, V, ids[t + 1]);
  return Math.exp(s / (ids.length - 1));
};

interface Row { model: string; dtype: string; maxAbs: number; meanAbs: number; top1: number; positions: number; ppl: number; pplHf: number; ms: number }

async function evaluate(model: string, hf: string, folders: Record<string, string>): Promise<Row[]> {
  const tok = Gpt2Tokenizer.fromFolder(Object.values(folders)[0]);
  const nCtx = JSON.parse(readFileSync(join(Object.values(folders)[0], "manifest.json"), "utf8")).consts.N_CTX as number;
  const prompts = PROMPTS.map((p) => tok.encode(p));
  const text = tok.encode(heldOutText()).slice(0, Math.min(nCtx, 128));
  const seqs = [...prompts, text];
  const ref = hfLogits(hf, seqs, model);
  const rows: Row[] = [];
  for (const [dtype, dir] of Object.entries(folders)) {
    const t0 = performance.now();
    const m = await CausalLM.load(dir, { backend });
    const V = m.vocab;
    let maxAbs = 0, sumAbs = 0, n = 0, top1 = 0, positions = 0, ppl = 0, pplHf = 0;
    seqs.forEach((ids, s) => {
      const got = dslLogits(m, ids), want = ref[s];
      for (let i = 0; i < got.length; i++) { const d = Math.abs(got[i] - want[i]); if (d > maxAbs) maxAbs = d; sumAbs += d; n++; }
      if (s < prompts.length) for (let t = 0; t < ids.length; t++) { positions++; if (argmaxRow(got, t * V, V) === argmaxRow(want, t * V, V)) top1++; }
      else { ppl = perplexity(got, ids, V); pplHf = perplexity(want, ids, V); }
    });
    rows.push({ model, dtype, maxAbs, meanAbs: sumAbs / n, top1, positions, ppl, pplHf, ms: performance.now() - t0 });
    console.error(`  ${model} ${dtype}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  return rows;
}

const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
console.log(`backend ${backend}; load average ${load()}`);
const all: Row[] = [];
{
  const hf = embeddedHf();
  const m: ZooModel = { name: "embedded", hf, dsl: join(CACHE, "accuracy", "embedded", "dsl") };
  const folders = Object.fromEntries(dtypes.map((d) => [d, converted(m, d)]));
  all.push(...(await evaluate("embedded", hf, folders)));
}
if (!args.includes("--skip-124m")) {
  const z = ensureModel("gpt2-124m-random");
  const folders = Object.fromEntries(dtypes.map((d) => [d, d === "f32" ? z.dsl : converted(z, d)]));
  all.push(...(await evaluate("gpt2-124m-random", z.hf, folders)));
}
console.log(`\n| model | weights | logits max-abs-diff | mean-abs-diff | top-1 = HF | perplexity DSL | HF f32 | change |`);
console.log(`| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
for (const r of all) {
  console.log(`| ${r.model} | ${r.dtype} | ${r.maxAbs.toExponential(2)} | ${r.meanAbs.toExponential(2)} | ${r.top1}/${r.positions} (${((100 * r.top1) / r.positions).toFixed(1)}%) | ${r.ppl.toFixed(3)} | ${r.pplHf.toFixed(3)} | ${(100 * (r.ppl / r.pplHf - 1)).toFixed(2)}% |`);
}
console.log(`\nload average at the end ${load()}`);
process.exit(0);
