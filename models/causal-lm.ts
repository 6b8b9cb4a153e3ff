// Host side of a causal language model in the DSL: loads a model folder, instantiates its
// architecture's kernel library (models/gpt2/gpt2.ta, models/llama/llama.ta or models/gpt_neox/gpt_neox.ta) for prefill and for decode, binds weights and state tensors, and runs
// the entry kernel on the chosen back end. Every tensor operation happens in DSL kernels; the host
// only moves token ids in and reads logits out.

import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DiagnosticError } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { elementCount } from "../compiler/types.js";
import { BACKENDS, BackendName, createExecutor, Executor } from "../backends/index.js";

export type { BackendName };
import { RunIO } from "../runtime/executor.js";
import type { RawProfile } from "../runtime/profile.js";
import { Session } from "../runtime/session.js";
import { TensorView } from "../runtime/tensor.js";
import { bindParam, InputError, ManifestSource } from "../runtime/weights.js";
import { confinedFile, isPlainObject, parseJson, readWholeFile, realFolder } from "../runtime/model-folder.js";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/**
 * The library (a folder of models/) that instantiates each supported architecture (manifest.json's
 * "architecture", HF's model_type): Qwen2, Qwen3, Mistral, Gemma, Gemma 2, Gemma 3, Phi-3 and Granite are the Llama library with other
 * consts in model.ta, never a copy of it.
 */
export const FAMILY_LIBRARY: Record<string, string> = {
  gpt2: "gpt2", llama: "llama", qwen2: "llama", qwen3: "llama", mistral: "llama", gemma: "llama", gemma2: "llama", gemma3_text: "llama", phi3: "llama", granite: "llama", gpt_neox: "gpt_neox",
};
/** The kernel library of each supported architecture. */
export const LIBRARIES: Record<string, string> = Object.fromEntries(
  Object.entries(FAMILY_LIBRARY).map(([arch, lib]) => [arch, join(REPO_ROOT, "models", lib, `${lib}.ta`)]),
);
/**
 * Kernels that depend on the weights' precision, added to the library from manifest.json's dtype
 * ("int8" or a float dtype). GPT-NeoX's weight types are GPT-2's, so it uses GPT-2's files.
 */
const precision = (lib: string) => ({ float: join(REPO_ROOT, "models", lib, "linear-float.ta"), int8: join(REPO_ROOT, "models", lib, "linear-int8.ta") });
export const PRECISION_KERNELS: Record<string, { float: string; int8: string }> = Object.fromEntries(
  Object.entries(FAMILY_LIBRARY).map(([arch, lib]) => [arch, precision(lib === "gpt_neox" ? "gpt2" : lib)]),
);
/**
 * The shared kernels (models/common/) each library uses. They are checked after the family file,
 * whose consts (N_KV_HEAD, NORM_EPS, RMS_OFFSET, WINDOW, GATE_ACT) they read.
 */
const COMMON_BY_LIBRARY: Record<string, string[]> = {
  gpt2: ["layers.ta", "quant.ta"],
  llama: ["layers.ta", "rope.ta", "gated-mlp.ta", "quant.ta"],
  gpt_neox: ["layers.ta", "rope.ta", "quant.ta"],
};
export const COMMON_KERNELS: Record<string, string[]> = Object.fromEntries(
  Object.entries(FAMILY_LIBRARY).map(([arch, lib]) => [arch, COMMON_BY_LIBRARY[lib]]),
);
export const EMBEDDED_MODEL = join(REPO_ROOT, "models", "embedded");

/**
 * One row of an architecture's weight table, models/<arch>/weights.json: a weight parameter of the
 * library's `forward` and the HF tensor(s) convert builds it from (docs/models.md, "The weight table").
 */
export interface WeightRow {
  name: string;
  /** HF tensor name; `{layer}` marks per-layer tensors stacked on a leading N_LAYER axis. Absent when computed. */
  hf?: string;
  /** Another HF name for some model types (Gemma 2's pre-MLP norm is pre_feedforward_layernorm). */
  hf_for?: Record<string, string>;
  /** The model types that have this tensor; for the others it is `absent` (Gemma 2's post-norms). */
  only?: string[];
  /** model.ta type, its shape as const expressions, its memory space. */
  type: string;
  dims: string[];
  space: string;
  /** HF (out, in) → (in, out). */
  transpose?: boolean;
  /** Column blocks of a fused projection, in order (GPT-2's c_attn: q, k, v). */
  fused?: string[];
  /** Another HF name of the same tensor (GPT-2's tied lm_head.weight). */
  tied?: string;
  /** The row this one copies when HF ties the two (Llama's lm_head ← tok_emb). */
  tied_to?: string;
  /** HF groups the fused rows per head (GPT-NeoX's q, k, v of head 0, then head 1, ...): the head count. */
  per_head?: string;
  /**
   * When the HF model has no such tensor: "zeros" (a bias its config turns off), a zero tensor;
   * "ones" (Qwen3's per-head query/key norms, off through QK_NORM = 0), ones.
   */
  absent?: string;
  /** Keep only this many leading rows (a const: wpe's N_CTX). */
  rows?: string;
  /** Not an HF tensor: computed by convert (the RoPE tables, each layer's attention window). */
  computed?: string;
  /** The tensor's type whatever the folder's dtype (the windows: int32). */
  dtype?: string;
  /** model.ta also declares the type of one slice along the first axis (the stacked rope tables' RopeTable). */
  slice_type?: string;
  /** An int8 candidate: the model.ta type of its `<name>_scale` tensor. */
  int8_scale?: string;
  note?: string;
}

interface LibraryTable { weights: WeightRow[]; consts: string[] }
function libraryTable(architecture: string): LibraryTable {
  const lib = Object.hasOwn(FAMILY_LIBRARY, architecture) ? FAMILY_LIBRARY[architecture] : undefined;
  const path = join(REPO_ROOT, "models", lib ?? "-", "weights.json");
  if (!lib || !existsSync(path)) throw new ModelError(`no weight table for architecture '${architecture}'`);
  return JSON.parse(readFileSync(path, "utf8"));
}

/** The weight table of an architecture. */
export function weightTable(architecture: string): WeightRow[] {
  return libraryTable(architecture).weights;
}

/** The consts an architecture's library reads from model.ta (its weights.json "consts"). */
export function libraryConsts(architecture: string): string[] {
  return libraryTable(architecture).consts;
}

/** manifest.json's consts.N_CTX (which sizes the prefill chunks before model.ta is checked): a positive integer. */
function manifestContext(dir: string, consts: unknown): number {
  const v = isPlainObject(consts) ? consts.N_CTX : undefined;
  if (v === undefined) return Infinity; // (a folder without consts is refused with the fix below)
  if (!Number.isSafeInteger(v) || (v as number) < 1) throw new ModelError(`${join(dir, "manifest.json")}: consts.N_CTX is ${JSON.stringify(v)}, expected a positive integer`);
  return v as number;
}

/**
 * manifest.json's consts say what model.ta declares (convert writes both): a folder whose two
 * disagree was edited or mixed from two conversions, and which one the hand meant is unknown.
 * Float consts compare as model.ta holds them (f32).
 */
function requireConstsAgree(dir: string, consts: unknown, declared: ReadonlyMap<string, number>): void {
  if (!isPlainObject(consts)) return;
  for (const [name, v] of Object.entries(consts)) {
    const d = declared.get(name);
    if (d === undefined) continue; // (a const the library does not read: model.ta need not declare it)
    if (typeof v !== "number" || (v !== d && Math.fround(v) !== Math.fround(d)))
      throw new ModelError(`${join(dir, "manifest.json")}: consts.${name} is ${JSON.stringify(v)}, but model.ta declares ${d}: ` +
        "the folder was edited or mixed from two conversions; convert the HF model again");
  }
}

/**
 * Every row of the architecture's weight table must be a tensor of the folder, and every const its
 * library reads a const of the folder. A folder converted before the library gained a weight or a
 * const (Qwen3's q_norm/k_norm rows, Granite's RESID_SCALE reached every Llama-library folder) is
 * refused here, naming what is missing and the fix, instead of failing to check the library.
 */
function requireTableTensors(dir: string, manifest: { tensors?: unknown; consts?: unknown }, architecture: string, lib: LibraryTable): void {
  const tensors = isPlainObject(manifest.tensors) ? manifest.tensors : {};
  const consts = isPlainObject(manifest.consts) ? manifest.consts : {};
  const folder = FAMILY_LIBRARY[architecture];
  const stale = "the folder was written by an older `tensorcore hf convert`; convert the HF model again";
  const missing = lib.weights.filter((r) => !Object.hasOwn(tensors, r.name)).map((r) => r.name);
  if (missing.length) {
    throw new ModelError(`${join(dir, "manifest.json")}: no tensor ${missing.map((n) => `'${n}'`).join(", ")}, which ` +
      `models/${folder}/weights.json lists for ${architecture}: ${stale}`);
  }
  const noConst = lib.consts.filter((c) => !Object.hasOwn(consts, c));
  if (noConst.length) {
    throw new ModelError(`${join(dir, "manifest.json")}: no const ${noConst.map((n) => `'${n}'`).join(", ")}, which ` +
      `models/${folder}/weights.json lists for ${architecture}: ${stale}`);
  }
}

/** Parameters of `forward` and `attention_probs` that are the model's state, not weights: the host owns them. */
export const STATE_PARAMS = new Set(["tokens", "start", "n", "seq_end", "k_cache", "v_cache", "trace", "final", "logits", "probs"]);

/**
 * Rows per chunk: prefill processes the prompt 64 positions at a time on the compiled back end
 * (each chunk reads every weight once; 64 rows measured faster than 32, whose extra weight passes
 * cost more, and than 128, whose causal attention tiles waste more) and 16 on the interpreter (less
 * padding work for short prompts); decode one. Any multiple of 16 up to the library's PROBE (64)
 * instantiates the same library.
 */
export const DECODE_ROWS = 1;

/** manifest.json's "format" of a model folder (python-ref's convert.FORMAT; `hf verify` checks it too). */
export const MODEL_FORMAT = "tensorcore-model/1";

/** A model folder that cannot be used: one line naming the file and field (the CLI exits 1). */
export class ModelError extends InputError {}

export interface ModelConfig {
  architecture: string;
  consts: Map<string, number>;
  raw: Record<string, unknown>;
}

/**
 * The library files of an architecture, in checking order: the family file, the precision kernels
 * for the folder's dtype (manifest.json "dtype": f32, f16, bf16 or int8), then the common kernels.
 */
export function libraryFiles(architecture: string, dtype = "f32"): string[] {
  const library = Object.hasOwn(LIBRARIES, architecture) ? LIBRARIES[architecture] : undefined;
  if (!library) throw new ModelError(`"architecture": unsupported architecture '${architecture}' (supported: ${Object.keys(LIBRARIES).join(", ")})`);
  if (!["f32", "f16", "bf16", "int8"].includes(dtype)) throw new ModelError(`"dtype" is '${dtype}', expected f32, f16, bf16 or int8`);
  const precision = PRECISION_KERNELS[architecture];
  return [library, precision[dtype === "int8" ? "int8" : "float"], ...COMMON_KERNELS[architecture].map((f) => join(REPO_ROOT, "models", "common", f))];
}

/** The model's generated model.ta plus the library files (libraryFiles), with ROWS fixed for one instantiation. */
export function librarySources(modelDir: string, rows: number, architecture = "gpt2", dtype = "f32"): SourceFile[] {
  let files: string[];
  try {
    files = libraryFiles(architecture, dtype);
  } catch (e) {
    throw e instanceof ModelError ? new ModelError(`${e.message.startsWith('"') ? join(modelDir, "manifest.json") : modelDir}: ${e.message}`) : e;
  }
  const modelTa = join(modelDir, "model.ta");
  if (!existsSync(modelTa)) throw new ModelError(`${modelDir}: not a model folder (no model.ta); create one with \`tensorcore hf convert\``);
  return [
    new SourceFile(modelTa, readWholeFile(confinedFile(realFolder(modelDir, "model folder"), "model.ta", modelTa), 16 << 20, modelTa).toString("utf8")),
    new SourceFile(`<${rows === 1 ? "decode" : "prefill"} instantiation>`, `const ROWS = ${rows};\n`),
    ...files.map((f) => new SourceFile(f, readFileSync(f, "utf8"))),
  ];
}

/** An executor with one instantiation of the library prepared (built, on the compiled back end). */
export async function makeExecutor(program: IR.Program, backend: BackendName, log: (m: string) => void, profile = false): Promise<Executor> {
  // parallel: the interpreter splits large products over threads and keeps weights in its wasm heap
  const exec = await createExecutor(backend, { log, parallel: true, profile });
  await exec.prepare([program]);
  return exec;
}

/** A loaded model (GPT-2 family or Llama-style), ready to prefill and decode on one back end. */
export class CausalLM {
  readonly vocab: number;
  readonly nCtx: number;
  readonly nLayer: number;
  readonly nHead: number;
  readonly dModel: number;
  /** State shared by the prefill and decode instantiations (KV cache, traces, logits). */
  readonly state = new Map<string, TensorView>();
  private readonly weights = new Map<string, TensorView>();
  private prefillArgs: TensorView[] = [];
  private decodeArgs: TensorView[] = [];
  /** Number of positions whose keys and values are in the cache. */
  length = 0;
  /** The length of the sequence the cached positions were computed for (the Llama library's seq_end). */
  private seqEnd = 0;
  /**
   * LongRoPE past its original context (the Llama library's ROPE_SETS = 2): the longest sequence
   * that turns with the short factors' tables; a longer one turns with the long factors' (llama.ta's
   * rope_set_of). Infinity for every other model.
   */
  private readonly ropeLongAfter: number;

  private constructor(
    readonly dir: string,
    readonly backend: BackendName,
    readonly prefillProgram: IR.Program,
    readonly decodeProgram: IR.Program,
    private readonly prefillExec: Executor,
    private readonly decodeExec: Executor,
    /** Where REDUCE(x) lines printed by the model's kernels go (the load's log). */
    private readonly io: RunIO,
  ) {
    const c = prefillProgram.consts;
    this.vocab = c.get("VOCAB")!;
    this.nCtx = c.get("N_CTX")!;
    this.nLayer = c.get("N_LAYER")!;
    this.nHead = c.get("N_HEAD")!;
    this.dModel = c.get("D_MODEL")!;
    this.ropeLongAfter = c.get("ROPE_SETS") === 2 ? c.get("ROPE_LONG_AFTER")! : Infinity;
  }

  /**
   * Load a model folder. Its manifest, files and sizes are checked before anything is compiled;
   * every tensor's sha256 is checked while binding unless `verifyWeights: false` (a stamp in the
   * cache makes a second load of the unchanged folder skip the hashing). `profile`: count time per
   * kernel and statement (tensorcore profile --model; see profiles()).
   */
  static async load(dir: string, opts: { backend?: BackendName; log?: (m: string) => void; verifyWeights?: boolean; profile?: boolean } = {}): Promise<CausalLM> {
    const log = opts.log ?? (() => {});
    if (!existsSync(dir)) throw new ModelError(`model folder '${dir}' does not exist`);
    if (!existsSync(join(dir, "manifest.json"))) throw new ModelError(`${dir}: not a model folder (no manifest.json); create one with \`tensorcore hf convert\``);
    const source = new ManifestSource(dir, { verify: opts.verifyWeights ?? true });
    const manifest = source.manifest;
    // a model folder is what convert writes (a manifest of loose tensors suits %load and run --inputs)
    if (manifest.format !== MODEL_FORMAT)
      throw new ModelError(`${join(dir, "manifest.json")}: format ${JSON.stringify(manifest.format ?? null)}, expected "${MODEL_FORMAT}" (a folder written by \`tensorcore hf convert\`)`);
    const architecture = manifest.architecture ?? "gpt2";
    const dtype = manifest.dtype ?? "f32";
    const nCtx = manifestContext(dir, manifest.consts);
    // (an unsupported architecture has no table: librarySources refuses it below, naming the field)
    const lib = Object.hasOwn(FAMILY_LIBRARY, architecture) ? libraryTable(architecture) : { weights: [], consts: [] };
    requireTableTensors(dir, manifest, architecture, lib);
    const table = lib.weights;
    const check = (rows: number) => new Session().check(librarySources(dir, rows, architecture, dtype));
    const backend = opts.backend ?? "interp";
    // Rows per prefill chunk: a property of the back end (backends/index.ts), never more than the context.
    const prefill = check(Math.min(BACKENDS[backend].prefillRows, nCtx)); // a chunk never exceeds the context
    const decode = check(DECODE_ROWS);
    requireConstsAgree(dir, manifest.consts, decode.consts);
    const prefillExec = await makeExecutor(prefill, backend, log, opts.profile);
    const decodeExec = await makeExecutor(decode, backend, log, opts.profile);
    const m = new CausalLM(dir, backend, prefill, decode, prefillExec, decodeExec, { print: log });
    m.bind(source, table);
    source.finishVerification();
    return m;
  }

  /** The prefill and decode executors' profiles (a model loaded with `profile: true`). */
  profiles(): { prefill?: RawProfile; decode?: RawProfile } {
    return { prefill: this.prefillExec.profile?.(), decode: this.decodeExec.profile?.() };
  }

  resetProfiles(): void {
    this.prefillExec.resetProfile?.();
    this.decodeExec.resetProfile?.();
  }

  private entry(program: IR.Program): IR.Kernel {
    const k = program.kernelByName.get("forward");
    if (!k) throw new ModelError("the model library has no kernel 'forward'");
    return k;
  }

  /** Bind every parameter of `forward`: the state (STATE_PARAMS), and the weight table's weights by name. */
  private bind(source: ManifestSource, table: WeightRow[]): void {
    const weights = new Set(table.map((r) => r.name));
    const scales = new Set(table.filter((r) => r.int8_scale).map((r) => `${r.name}_scale`));
    // names this folder's weights in the interpreter's wasm heap (a reconverted folder gets new ones)
    const heapKey = `${resolve(this.dir)}|${statSync(join(this.dir, "manifest.json")).mtimeMs}`;
    const bindAll = (k: IR.Kernel): TensorView[] =>
      k.params.map((p) => {
        if (STATE_PARAMS.has(p.name)) {
          let t = this.state.get(p.name);
          if (!t) { t = this.decodeExec.alloc(p.type); this.state.set(p.name, t); }
          return t;
        }
        if (!weights.has(p.name) && !scales.has(p.name)) throw new ModelError(`parameter '${p.name}' of '${k.name}' is neither model state nor a weight of the weight table`);
        let w = this.weights.get(p.name);
        if (!w) {
          // a float folder has no `<name>_scale` tensors: the precision kernels declare them as
          // unused {1} placeholders (models/<library>/linear-float.ta), bound to zero
          const placeholder = scales.has(p.name) && !source.has(p.name) && elementCount(p.type.shape) === 1;
          w = placeholder ? this.decodeExec.alloc(p.type) : bindParam(p.name, p.type, source, undefined); // no span: the message names the model's file, not the library
          w = this.decodeExec.adoptWeight(`${heapKey}|${p.name}`, w);
          this.weights.set(p.name, w);
        }
        return w;
      });
    this.prefillArgs = bindAll(this.entry(this.prefillProgram));
    this.decodeArgs = bindAll(this.entry(this.decodeProgram));
  }

  private setInt(name: string, v: number): void {
    (this.state.get(name)!.data as Int32Array)[0] = v;
  }

  /** Run positions [start, start + ids.length) and return the logits of the last one. */
  private step(ids: number[], exec: Executor, program: IR.Program, args: TensorView[]): Float32Array {
    const start = this.length;
    if (start + ids.length > this.nCtx) throw new ModelError(`the context is full: ${start + ids.length} positions, the model has ${this.nCtx}`);
    const tokens = this.state.get("tokens")!.data as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocab) throw new ModelError(`token id ${id} is outside the vocabulary (0..${this.vocab - 1})`);
      tokens[start + i] = id;
    }
    this.setInt("start", start);
    this.setInt("n", start + ids.length);
    this.seqEnd = Math.max(this.seqEnd, start + ids.length);
    if (this.state.has("seq_end")) this.setInt("seq_end", this.seqEnd);
    exec.runKernel(this.entry(program), args, this.io);
    this.length = start + ids.length;
    return this.state.get("logits")!.data as Float32Array;
  }

  /**
   * Prefill a prompt from an empty cache; returns the logits of its last position. Whole chunks run
   * in the prefill instantiation; a last partial chunk of at most the back end's `decodeTail` tokens
   * runs as decode steps instead (a 1-token prompt took a 64-row chunk: 136 ms for GPT-2 124M f32
   * against ~16 for a decode step), and so does any partial chunk that would reach past N_CTX. `chunked`: every token
   * in the prefill instantiation (tensorcore profile --model profiles that instantiation).
   */
  prefill(ids: number[], opts: { chunked?: boolean } = {}): Float32Array {
    if (ids.length === 0) throw new ModelError("the prompt has no tokens");
    if (ids.length > this.nCtx) throw new ModelError(`the prompt has ${ids.length} tokens, more than the model's context of ${this.nCtx}`);
    this.length = 0;
    // every position of the prompt belongs to a sequence of its full length (HF's one forward over it)
    this.seqEnd = ids.length;
    const rows = this.prefillProgram.consts.get("ROWS")!;
    const head = Math.floor(ids.length / rows) * rows, tail = ids.length - head;
    // a partial chunk still writes whole chunks: they must stay inside N_CTX
    const decodeTail = tail > 0 && (head + rows > this.nCtx || (tail <= BACKENDS[this.backend].decodeTail && !opts.chunked));
    if (!decodeTail) return this.step(ids, this.prefillExec, this.prefillProgram, this.prefillArgs);
    let logits!: Float32Array;
    if (head > 0) logits = this.step(ids.slice(0, head), this.prefillExec, this.prefillProgram, this.prefillArgs);
    for (const id of ids.slice(head)) logits = this.step([id], this.decodeExec, this.decodeProgram, this.decodeArgs);
    return logits;
  }

  /**
   * One decode step: the token at position `length`; returns the logits for the next one. The step
   * that makes a LongRoPE sequence longer than ROPE_LONG_AFTER recomputes every position with the
   * long factors instead (one prefill), as transformers' Phi-3 drops its cache at that step.
   */
  decode(id: number): Float32Array {
    if (this.seqEnd <= this.ropeLongAfter && this.length + 1 > this.ropeLongAfter) {
      const tokens = this.state.get("tokens")!.data as Int32Array;
      return this.prefill([...tokens.subarray(0, this.length), id]);
    }
    return this.step([id], this.decodeExec, this.decodeProgram, this.decodeArgs);
  }

  /** How the back end runs here, e.g. "eigen (avx2 products, 2 threads)". */
  describe(): string {
    return this.decodeExec.describe();
  }

  /** A copy of a state tensor (trace, final, probs, ...) for verification. */
  stateTensor(name: string): TensorView | undefined {
    return this.state.get(name);
  }

  /** Attention probabilities of the first PROBE positions, for every layer and head (verification). */
  async attentionProbs(): Promise<TensorView> {
    const k = this.prefillProgram.kernelByName.get("attention_probs")!;
    const args = k.params.map((p) => this.state.get(p.name) ?? this.weights.get(p.name) ?? (() => {
      const t = this.prefillExec.alloc(p.type);
      this.state.set(p.name, t);
      return t;
    })());
    this.prefillExec.runKernel(k, args, this.io);
    return this.state.get("probs")!;
  }

  get probeRows(): number {
    return this.prefillProgram.consts.get("PROBE")!;
  }
}

export function readConfig(dir: string): Record<string, unknown> {
  const p = join(dir, "config.json");
  if (!existsSync(p)) throw new ModelError(`${dir}: no config.json`);
  const cfg = parseJson(readWholeFile(confinedFile(realFolder(dir, "model folder"), "config.json", p), 16 << 20, p).toString("utf8"), p);
  if (!isPlainObject(cfg)) throw new ModelError(`${p}: expected a JSON object`);
  return cfg;
}

export { DiagnosticError };
