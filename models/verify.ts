// `tensorcore verify`: runs the DSL model and HF transformers on the same prompts and compares
// every layer's residual stream, the attention probabilities, the logits and greedy continuations.
// HF's side comes from python-ref's `export` (npy files); this file only reads and compares.

import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BACKEND_OPTION, checkOutputFile, CommandSpec, DEFAULT_BACKEND_TEXT, parseCommand, UsageError, writeOutputFile } from "../cli/args.js";
import { runPythonRef } from "../cli/hf.js";
import { Progress } from "../cli/progress.js";
import { InputError, ManifestSource, parseNpy } from "../runtime/weights.js";
import { cacheDir as userCacheDir, confinedFile, hashRange, isPlainObject, MANIFEST_MAX_BYTES, parseJson, readWholeFile, realFolder } from "../runtime/model-folder.js";
import { BackendName, EMBEDDED_MODEL, CausalLM, ModelError } from "./causal-lm.js";
import { argmax } from "./sampling.js";
import { pruneReferences, referencesLimitBytes, touchReference } from "./reference-cache.js";
import { Tokenizer } from "./tokenizer.js";
import { BACKEND_NAMES, BACKENDS, chooseBackend, DEFAULT_BACKEND } from "../backends/index.js";

/** The report's row for the decode steps' logits (every prompt has it; 0 when no step was compared). */
const DECODE_ROW = "logits (decode steps)";
export const TOLERANCE = { logitsMaxAbs: 1e-3, layerCosine: 0.99999, greedyGap: 1e-4 };

export interface LayerRow { name: string; maxAbs: number; cosine: number }
export interface PromptReport {
  prompt: string;
  tokens: number;
  layers: LayerRow[];
  attention: { layer: number; maxAbs: number }[];
  logitsMaxAbs: number;
  greedy: { hf: number[]; dsl: number[]; matched: number; tieSteps: number; ok: boolean };
  /** Decode steps whose logits were compared with HF generate's (the "logits (decode steps)" row). */
  decodeSteps: number;
  /** Token text of the prompt's ids and of every id above (for the report), when the folder has a tokenizer. */
  tokenText?: { ids: number[]; prompt: string[]; byId: Record<number, string> };
  /** First layers' attention maps of head 0: DSL and HF, for the report's heatmaps. */
  maps: { layer: number; dsl: number[][]; hf: number[][] }[];
}

export interface VerifyReport {
  model: string;
  modelSha256: string;
  backend: BackendName;
  versions: Record<string, string>;
  seed: number;
  tolerance: typeof TOLERANCE;
  prompts: PromptReport[];
  ok: boolean;
  failures: string[];
}

/**
 * An array of a reference export: a file index.json lists (so referenceDamage has checked it: inside
 * the folder, a regular file, its sha256), of the precision and shape this model and prompt give it
 * (-1: any length on that axis), and of exactly as many bytes. Anything else (an export edited
 * together with its index.json, another export's files, one removed by another process meanwhile)
 * is refused naming the file, rather than read from outside or compared past its end.
 */
const again = "(delete the reference folder to export it again)";
function npy(path: string, listed: ReadonlySet<string>, precision: "f32" | "int32", shape: number[]): { shape: number[]; data: Float32Array | Int32Array } {
  if (!listed.has(path)) throw new UsageError(`${path}: not listed in the export's index.json ${again}`);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new UsageError(`${path}: gone while verify read the export (removed by another process, or \`tensorcore cache prune\`?): run verify again`);
    throw new UsageError(`${path}: cannot be read (${code ?? e})`);
  }
  const r = parseNpy(buf, path);
  const got = r.shape ?? [];
  if (r.precision !== precision) throw new UsageError(`${path}: dtype ${r.precision}, expected ${precision === "f32" ? "float32" : "int32"} ${again}`);
  if (got.length !== shape.length || got.some((n, i) => shape[i] >= 0 && n !== shape[i]))
    throw new UsageError(`${path}: shape ${JSON.stringify(got)}, expected ${JSON.stringify(shape).replace(/-1/g, "N")} for this model and prompt ${again}`);
  const b = r.bytes;
  const want = got.reduce((n, d) => n * d, 1) * 4;
  if (b.byteLength !== want) throw new UsageError(`${path}: ${b.byteLength} bytes of data, but shape ${JSON.stringify(got)} needs ${want} ${again}`);
  const copy = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  return { shape: got, data: precision === "int32" ? new Int32Array(copy) : new Float32Array(copy) };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (d > m || Number.isNaN(d)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
}

/**
 * Export HF references for the prompts (cached by model hash, prompts and token count). python-ref's
 * progress goes to `progress`; without one, its output is kept for the error message if it fails.
 */
export async function exportReferences(modelDir: string, prompts: string[], newTokens: number, log: (m: string) => void, progress?: Progress): Promise<string> {
  // checked (confined, a regular file, well-formed) before python-ref is started on the folder
  const manifest = readWholeFile(confinedFile(new ManifestSource(modelDir, { verify: false }).realDir, "manifest.json", join(modelDir, "manifest.json")), MANIFEST_MAX_BYTES);
  const key = createHash("sha256").update(manifest).update(JSON.stringify(prompts)).update(String(newTokens)).digest("hex").slice(0, 16);
  const root = join(userCacheDir(), "references"), cache = join(root, key);
  const limit = referencesLimitBytes(); // a bad TENSORCORE_REFERENCES_CACHE_MB is refused before minutes of export
  if (existsSync(cache)) {
    // a cached export is used only whole and unchanged (every file against index.json's sha256)
    const damage = referenceDamage(cache, prompts);
    if (!damage) {
      touchReference(cache);
      return cache;
    }
    log(`the cached HF references in ${cache} are damaged (${damage}); exporting them again`);
    // the folder is this project's own (references/<key>, written only by export): python-ref would
    // refuse to replace a folder without its index.json
    rmSync(cache, { recursive: true, force: true });
  }
  // a symlink left at the key's name whose target is gone (existsSync follows it): python-ref would
  // refuse to write through it, so it goes (the link only; there is no target)
  try {
    if (lstatSync(cache).isSymbolicLink() && !existsSync(cache)) rmSync(cache);
  } catch { /* nothing there */ }
  mkdirSync(join(cache, ".."), { recursive: true });
  const promptFile = `${cache}.prompts.json`;
  writeFileSync(promptFile, JSON.stringify(prompts));
  log(`exporting HF references for ${prompts.length} prompt(s) …`);
  const kept: string[] = [];
  const code = await runPythonRef(["export", resolve(modelDir), "--prompts", promptFile, "--out", cache, "--new-tokens", String(newTokens)],
    progress ?? new Progress({ write: (s) => kept.push(s) }, false));
  if (code !== 0) throw new UsageError(`python-ref export failed${kept.length ? `:\n${kept.join("").trim()}` : " (its messages are above)"}`);
  const damage = referenceDamage(cache, prompts);
  if (damage) throw new UsageError(`python-ref export wrote ${cache}, but ${damage}`);
  // the least recently used exports beyond the limit go (never this one, nor one used in the last 15 minutes)
  const pruned = pruneReferences(root, limit, key);
  if (pruned.removed.length) log(`removed ${pruned.removed.length} least recently used HF reference export(s) (${(pruned.freedBytes / 2 ** 20).toFixed(0)} MB) to keep ${root} under ${(limit / 2 ** 20).toFixed(0)} MB (TENSORCORE_REFERENCES_CACHE_MB)`);
  return cache;
}

const REFERENCE_FORMAT = "tensorcore-reference/1";
const SHA256_HEX = /^[0-9a-f]{64}$/;
const PLAIN_NAME = /^[A-Za-z0-9_.-]+\.npy$/;

/**
 * What is wrong with a cached reference export, or null: index.json is export's (format, one entry
 * per prompt, in order, for these prompts) and every file it lists is inside the folder, a regular
 * file and has its sha256. The files are small (a few MB for GPT-2 124M), so hashing them costs
 * little beside the run they verify.
 */
export function referenceDamage(dir: string, prompts: string[]): string | null {
  try {
    const real = realFolder(dir, "reference folder");
    const indexFile = confinedFile(real, "index.json", join(dir, "index.json"), "the reference folder");
    const index = parseJson(readWholeFile(indexFile, MANIFEST_MAX_BYTES).toString("utf8"), "index.json") as Record<string, unknown>;
    if (!isPlainObject(index) || index.format !== REFERENCE_FORMAT) return `index.json is not a ${REFERENCE_FORMAT} index`;
    const entries = index.prompts;
    if (!Array.isArray(entries) || entries.length !== prompts.length) return `index.json does not list the ${prompts.length} prompt(s)`;
    for (let p = 0; p < prompts.length; p++) {
      const e = entries[p] as Record<string, unknown>;
      const dirName = `p${String(p).padStart(3, "0")}`;
      if (!isPlainObject(e) || e.dir !== dirName || e.prompt !== prompts[p] || !Array.isArray(e.files)) return `index.json's prompts[${p}] is not prompt ${p + 1}'s entry`;
      // an export from before verify compared decode steps' logits has no greedy_logits.npy
      if (!(e.files as unknown[]).some((f) => isPlainObject(f) && f.name === "greedy_logits.npy")) return `${dirName}/greedy_logits.npy is missing`;
      for (const f of e.files as Record<string, unknown>[]) {
        if (!isPlainObject(f) || typeof f.name !== "string" || !PLAIN_NAME.test(f.name) || typeof f.sha256 !== "string" || !SHA256_HEX.test(f.sha256))
          return `index.json's prompts[${p}].files has an entry that is not a file name and sha256`;
        const rel = `${dirName}/${f.name}`;
        if (!existsSync(join(dir, rel))) return `${rel} is missing`;
        const path = confinedFile(real, rel, join(dir, rel), "the reference folder");
        const size = statSync(path).size;
        if (hashRange(path, 0, size, join(dir, rel), "the file") !== f.sha256) return `${rel} does not match its sha256 in index.json`;
      }
    }
    return null;
  } catch (e) {
    if (e instanceof InputError) return e.message;
    throw e;
  }
}

export function readPrompts(file: string | undefined): string[] {
  if (!file) return ["The meaning of life is", "Hello, my dog is cute and", "In the beginning there was"];
  if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
  let prompts: string[];
  try {
    const text = readWholeFile(file, 16 << 20).toString("utf8");
    if (text.trim().startsWith("[")) {
      const list = parseJson(text, file);
      if (!Array.isArray(list) || !list.every((p) => typeof p === "string")) throw new UsageError(`${file}: expected a JSON list of strings`);
      prompts = list;
    } else prompts = text.split("\n").filter((l) => l.trim().length > 0);
  } catch (e) {
    throw e instanceof InputError ? new UsageError(e.message) : e;
  }
  if (prompts.length === 0 || prompts.every((p) => p.trim() === "")) throw new UsageError(`${file}: no prompts (one per line, or a JSON list of strings)`);
  return prompts;
}

/** Each prompt and its new tokens fit the folder's context (manifest consts.N_CTX), or a UsageError names the first that does not. */
function checkPromptsFit(modelDir: string, prompts: string[], newTokens: number, tokenizer: Tokenizer): void {
  const nCtx = new ManifestSource(modelDir, { verify: false }).manifest.consts?.N_CTX;
  if (typeof nCtx !== "number") return; // the load that follows names the folder's problem
  prompts.forEach((p, i) => {
    const n = tokenizer.encode(p).length;
    if (n + newTokens > nCtx) {
      const shown = p.length > 40 ? JSON.stringify(p.slice(0, 40)) + "…" : JSON.stringify(p);
      throw new UsageError(`prompt ${i + 1} (${shown}) is ${n} tokens: with --new-tokens ${newTokens} it needs ${n + newTokens} positions, but the model's context has ${nCtx}`);
    }
  });
}

export async function verifyModel(
  modelDir: string, prompts: string[], backend: BackendName,
  opts: { newTokens?: number; log?: (m: string) => void; progress?: Progress; verifyWeights?: boolean } = {},
): Promise<VerifyReport> {
  const log = opts.log ?? (() => {});
  const newTokens = opts.newTokens ?? 32;
  const failures: string[] = [];
  // The folder's tokenizer must give HF's prompt ids (BOS included), or generate would feed the model
  // other tokens than the ones verified here; the report shows token text with it (a folder without
  // one: ids only).
  let tokenizer: Tokenizer | null = null;
  if (["tokenizer.json", "vocab.json"].some((f) => existsSync(join(modelDir, f)))) {
    try {
      tokenizer = Tokenizer.fromFolder(modelDir);
    } catch (e) {
      failures.push(`tokenizer: ${(e as Error).message}`);
    }
  }
  if (tokenizer) checkPromptsFit(modelDir, prompts, newTokens, tokenizer); // before minutes of export
  const refDir = await exportReferences(modelDir, prompts, newTokens, log, opts.progress);
  const index = JSON.parse(readFileSync(join(refDir, "index.json"), "utf8")); // checked by exportReferences
  const model = await CausalLM.load(modelDir, { backend, log, verifyWeights: opts.verifyWeights ?? true });
  const reports: PromptReport[] = [];
  const L = model.nLayer, D = model.dModel, V = model.vocab, H = model.nHead;
  // each prompt's folder is pNNN (referenceDamage checked index.json's entries say so), and only the
  // files index.json lists for it are read
  const promptDirs = prompts.map((_, i) => `p${String(i).padStart(3, "0")}`);
  const listed = new Set<string>((index.prompts as { dir: string; files: { name: string }[] }[]).flatMap((e) => e.files.map((f) => join(refDir, e.dir, f.name))));
  for (let p = 0; p < prompts.length; p++) {
    opts.progress?.step("verify", p + 1, prompts.length, `prompt ${p + 1}: layers, attention, logits, greedy continuation`);
    const dir = join(refDir, promptDirs[p]);
    touchReference(refDir); // in use: a long run's export stays recent for another process's pruning
    const tokens = Array.from(npy(join(dir, "tokens.npy"), listed, "int32", [-1]).data);
    const T = tokens.length;
    if (tokenizer) {
      const mine = tokenizer.encode(prompts[p]);
      if (mine.join() !== tokens.join()) failures.push(`prompt ${p}: the tokenizer gives ${JSON.stringify(mine)}, HF's AutoTokenizer ${JSON.stringify(tokens)}`);
    }
    const logits = Float32Array.from(model.prefill(tokens));
    const trace = model.stateTensor("trace")!.data as Float32Array;
    const rows = (l: number) => trace.subarray(l * model.nCtx * D, l * model.nCtx * D + T * D);
    const layers: LayerRow[] = [];
    for (let l = 0; l <= L; l++) {
      const ref = npy(join(dir, l < L ? `layer${l}.input.npy` : `layer${L - 1}.resid.npy`), listed, "f32", [T, D]).data;
      layers.push({ name: l < L ? `layer ${l} input` : `layer ${L - 1} output`, maxAbs: maxAbsDiff(rows(l), ref), cosine: cosine(rows(l), ref) });
    }
    const finalRef = npy(join(dir, "final_norm.npy"), listed, "f32", [T, D]).data;
    const fin = (model.stateTensor("final")!.data as Float32Array).subarray(0, T * D);
    layers.push({ name: "final norm", maxAbs: maxAbsDiff(fin, finalRef), cosine: cosine(fin, finalRef) });
    const refLogits = npy(join(dir, "logits.npy"), listed, "f32", [T, V]).data.subarray((T - 1) * V, T * V);
    const logitsMaxAbs = maxAbsDiff(logits, refLogits);
    layers.push({ name: "logits (last position)", maxAbs: logitsMaxAbs, cosine: cosine(logits, refLogits) });

    // Attention probabilities of the first min(T, PROBE) positions.
    const probs = (await model.attentionProbs()).data as Float32Array;
    const P = model.probeRows, n = Math.min(T, P);
    const attention: PromptReport["attention"] = [];
    const maps: PromptReport["maps"] = [];
    for (let l = 0; l < L; l++) {
      const ref = npy(join(dir, `layer${l}.attn_probs.npy`), listed, "f32", [H, T, T]).data; // {H, T, T}
      let m = 0;
      for (let h = 0; h < H; h++)
        for (let i = 0; i < n; i++)
          for (let j = 0; j <= i; j++) m = Math.max(m, Math.abs(probs[((l * H + h) * P + i) * P + j] - ref[(h * T + i) * T + j]));
      attention.push({ layer: l, maxAbs: m });
      if (maps.length < 2 && (l === 0 || l === L - 1)) {
        const grid = (f: (i: number, j: number) => number) => Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => f(i, j)));
        maps.push({ layer: l, dsl: grid((i, j) => probs[(l * H * P + i) * P + j]), hf: grid((i, j) => ref[i * T + j]) });
      }
    }

    // Greedy continuation, token by token; the prefill above left the cache at T positions.
    model.prefill(tokens);
    const hf = Array.from(npy(join(dir, "greedy.npy"), listed, "int32", [newTokens]).data);
    const outside = hf.find((id) => !(id >= 0 && id < V));
    if (outside !== undefined) throw new UsageError(`${join(dir, "greedy.npy")}: token id ${outside} is outside the vocabulary (0..${V - 1}) ${again}`);
    const gaps = Array.from(npy(join(dir, "greedy_gap.npy"), listed, "f32", [newTokens]).data);
    // HF generate's logits at each step (its KV cache): each DSL decode step's logits are compared
    // with them while the two sequences agree, so the decode path is checked by value, not by argmax
    const stepLogits = npy(join(dir, "greedy_logits.npy"), listed, "f32", [newTokens, V]).data;
    const dsl: number[] = [];
    let cur = Float32Array.from(logits);
    let matched = 0, tieSteps = 0, ok = true;
    let decodeMaxAbs = 0, decodeCosine = 1, decodeSteps = 0, worstStep = 0;
    for (let i = 0; i < hf.length; i++) {
      if (i > 0) {
        const ref = stepLogits.subarray(i * V, (i + 1) * V);
        const d = maxAbsDiff(cur, ref);
        if (!(d <= decodeMaxAbs) && !Number.isNaN(decodeMaxAbs)) { decodeMaxAbs = d; worstStep = i; }
        decodeCosine = Math.min(decodeCosine, cosine(cur, ref));
        decodeSteps++;
      }
      const id = argmax(cur);
      dsl.push(id);
      if (id !== hf[i]) {
        if (gaps[i] < TOLERANCE.greedyGap) tieSteps++;
        else ok = false;
        break; // the sequences differ from here on
      }
      matched++;
      if (i + 1 < hf.length && model.length < model.nCtx) cur = Float32Array.from(model.decode(id));
    }
    // (every prompt has the row, for the report's per-tensor figure; with no decode step compared, 0)
    layers.push({ name: DECODE_ROW, maxAbs: decodeMaxAbs, cosine: decodeCosine });
    const rep: PromptReport = { prompt: prompts[p], tokens: T, layers, attention, logitsMaxAbs, greedy: { hf, dsl, matched, tieSteps, ok }, decodeSteps, maps };
    if (tokenizer) {
      const text = (id: number) => tokenizer!.decode([id]);
      rep.tokenText = { ids: tokens, prompt: tokens.map(text), byId: Object.fromEntries([...tokens, ...hf, ...dsl].map((id) => [id, text(id)])) };
    }
    reports.push(rep);
    const tag = `prompt ${p} (${JSON.stringify(prompts[p].slice(0, 30))})`;
    if (!(logitsMaxAbs <= TOLERANCE.logitsMaxAbs)) failures.push(`${tag}: logits max-abs-diff ${logitsMaxAbs.toExponential(2)} > ${TOLERANCE.logitsMaxAbs}`);
    if (!(decodeMaxAbs <= TOLERANCE.logitsMaxAbs)) failures.push(`${tag}: decode step ${worstStep}'s logits differ from HF generate's by ${decodeMaxAbs.toExponential(2)} > ${TOLERANCE.logitsMaxAbs}`);
    for (const r of layers) if (!(r.cosine >= TOLERANCE.layerCosine)) failures.push(`${tag}: ${r.name} cosine ${r.cosine.toFixed(7)} < ${TOLERANCE.layerCosine}`);
    for (const a of attention) if (!(a.maxAbs <= 1e-4)) failures.push(`${tag}: layer ${a.layer} attention max-abs-diff ${a.maxAbs.toExponential(2)} > 1e-4`);
    if (!ok) failures.push(`${tag}: greedy continuation diverges at step ${matched} (HF ${hf[matched]}, DSL ${dsl[matched]}, HF top-2 gap ${gaps[matched]?.toExponential(2)})`);
  }
  return {
    model: resolve(modelDir),
    modelSha256: index.model_sha256 ?? "",
    backend,
    versions: { node: process.version, transformers: index.versions?.transformers ?? index.transformers_version ?? "?", torch: index.versions?.torch ?? index.torch_version ?? "?" },
    seed: index.seed ?? 0,
    tolerance: TOLERANCE,
    prompts: reports,
    ok: failures.length === 0,
    failures,
  };
}

export function formatTable(r: VerifyReport): string {
  const out: string[] = [];
  for (const p of r.prompts) {
    out.push(`prompt ${JSON.stringify(p.prompt)} (${p.tokens} tokens)`);
    out.push(`  ${"tensor".padEnd(26)} ${"max-abs-diff".padStart(12)} ${"cosine".padStart(12)}`);
    for (const l of p.layers) {
      if (l.name === DECODE_ROW && !p.decodeSteps) continue; // (a 1-token continuation has no decode step)
      out.push(`  ${l.name.padEnd(26)} ${l.maxAbs.toExponential(3).padStart(12)} ${l.cosine.toFixed(8).padStart(12)}`);
    }
    const worstAttn = Math.max(...p.attention.map((a) => a.maxAbs));
    out.push(`  ${"attention probs (all)".padEnd(26)} ${worstAttn.toExponential(3).padStart(12)}`);
    out.push(`  greedy: ${p.greedy.matched}/${p.greedy.hf.length} tokens identical to HF generate${p.greedy.tieSteps ? `, ${p.greedy.tieSteps} step(s) at a near-tie` : ""}${p.decodeSteps ? `; the logits of ${p.decodeSteps} decode step(s) compared` : ""}`);
  }
  out.push(r.ok ? `verify: OK (${r.backend}; logits ≤ ${r.tolerance.logitsMaxAbs}, cosine ≥ ${r.tolerance.layerCosine})` : `verify: FAILED\n  ${r.failures.join("\n  ")}`);
  return out.join("\n");
}

export const VERIFY = {
  name: "verify",
  summary: "Run a DSL model and HF transformers on the same prompts and compare every layer's residual stream,\n" +
    "the attention probabilities, the logits and the greedy continuations. Exit 0 when all are within tolerance.",
  usage: "[options]",
  options: {
    model: { type: "string", value: "DIR", description: "a DSL model folder", defaultText: "the embedded model" },
    prompts: { type: "string", value: "FILE", description: "one prompt per line, or a JSON list of strings", defaultText: "three built-in prompts" },
    "new-tokens": { type: "integer", description: "greedy tokens compared per prompt", default: 32 },
    backend: { ...BACKEND_OPTION, description: `back end (${BACKEND_NAMES.join(", ")}, or all: each in turn, in one report)`, defaultText: `${DEFAULT_BACKEND_TEXT}; all with --report` },
    report: { type: "string", value: "FILE", description: "also write a self-contained HTML report" },
    json: { type: "boolean", description: "print the report as JSON instead of a table" },
    "no-verify": { type: "boolean", description: "skip checking each tensor's sha256 against manifest.json (a corrupted weight file then loads silently; paths, file types and sizes are still checked; the HF reference export still checks its own)" },
  },
  notes: "HF's side comes from `tensorcore hf export` (cached in ~/.cache/tensorcore/references); it needs the project's .venv.",
} as const satisfies CommandSpec;

export async function verifyCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(VERIFY, argv);
  if (parsed.help) return 0;
  const v = parsed.values;
  const dir = v.model ?? EMBEDDED_MODEL;
  if (v["new-tokens"] < 1) throw new UsageError("--new-tokens needs a positive integer");
  if (!existsSync(join(dir, "manifest.json"))) throw new UsageError(`${dir}: not a model folder (no manifest.json)`);
  const prompts = readPrompts(v.prompts);
  if (v.report !== undefined) checkOutputFile(v.report, "--report");
  const progress = new Progress();
  // --backend all (the default with --report): every back end, one after the other, in one report.
  const all = v.backend === "all" || (v.backend === undefined && v.report !== undefined);
  const backends = all ? [...BACKEND_NAMES] : [await chooseBackend(v.backend, DEFAULT_BACKEND, progress.log)];
  const reports: VerifyReport[] = [];
  try {
    for (const backend of backends) {
      if (all) {
        const problem = await BACKENDS[backend].available();
        if (problem) { progress.log(`verify: skipping the ${backend} back end (${problem})`); continue; }
      }
      reports.push(await verifyModel(dir, prompts, backend, { newTokens: v["new-tokens"], log: progress.log, progress, verifyWeights: v["no-verify"] !== true }));
    }
  } catch (e) {
    if (e instanceof ModelError || e instanceof InputError) throw new UsageError(e.message);
    throw e;
  } finally {
    progress.end();
  }
  if (v.json) console.log(JSON.stringify(reports.length === 1 ? reports[0] : reports));
  else console.log(reports.map(formatTable).join("\n\n"));
  if (v.report) {
    const { renderReport } = await import("./report.js");
    writeOutputFile(v.report, renderReport(reports));
    console.error(`report written to ${v.report}`);
  }
  return reports.length > 0 && reports.every((r) => r.ok) ? 0 : 1;
}
