// The BPE model of HF tokenizers (`"model": {"type": "BPE", ...}` in tokenizer.json): a word (one
// pre-token) becomes its characters' ids (or their UTF-8 byte tokens `<0xNN>` with byte_fallback, or the
// unknown token), then merges apply by rank, lowest first, leftmost first on ties.

import { TokenizerError } from "./errors.js";

export { TokenizerError };

/** Open-addressing hash table: (left id, right id) -> (rank, merged id). Allocation-free lookups. */
export class MergeTable {
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

export interface BpeOptions {
  unkToken: string | null;
  fuseUnk: boolean;
  byteFallback: boolean;
  ignoreMerges: boolean;
}

const CACHE_MAX = 50_000;
const CACHE_MAX_WORD_LEN = 256;
const SIMPLE_BPE_MAX = 48;

export class BpeModel {
  readonly vocab: ReadonlyMap<string, number>;
  private readonly merges: MergeTable;
  private readonly unkId: number;
  private readonly byteIds: Int32Array | null; // byte -> id of "<0xNN>" (byte_fallback), -1 if absent
  private readonly cache = new Map<string, number[]>();

  /** `merges` are pairs in rank order; a merge whose parts or result are not in the vocab is an error (as HF). */
  constructor(vocab: Map<string, number>, merges: Array<[string, string]>, readonly opts: BpeOptions) {
    this.vocab = vocab;
    this.merges = new MergeTable(merges.length);
    for (let r = 0; r < merges.length; r++) {
      const [a, b] = merges[r];
      const ia = vocab.get(a);
      const ib = vocab.get(b);
      const im = vocab.get(a + b);
      if (ia === undefined || ib === undefined || im === undefined) {
        throw new TokenizerError(`model.merges[${r}] "${a} ${b}" uses a token missing from model.vocab`);
      }
      this.merges.set(ia, ib, r, im);
    }
    this.unkId = -1;
    if (opts.unkToken !== null) {
      const u = vocab.get(opts.unkToken);
      if (u === undefined) throw new TokenizerError(`model.unk_token ${JSON.stringify(opts.unkToken)} is not in model.vocab`);
      this.unkId = u;
    }
    this.byteIds = null;
    if (opts.byteFallback) {
      this.byteIds = new Int32Array(256);
      for (let b = 0; b < 256; b++) this.byteIds[b] = vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`) ?? -1;
    }
  }

  /** Ids of one pre-token (cached). */
  tokenize(word: string, out: number[]): void {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.tokenizeUncached(word);
      if (word.length <= CACHE_MAX_WORD_LEN) {
        if (this.cache.size >= CACHE_MAX) this.cache.clear();
        this.cache.set(word, ids);
      }
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]);
  }

  private tokenizeUncached(word: string): number[] {
    if (this.opts.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    const sym = this.symbols(word);
    if (sym.length < 2) return sym;
    return sym.length <= SIMPLE_BPE_MAX ? this.bpeSimple(sym) : this.bpeHeap(sym);
  }

  /** The word's characters as ids, as HF's BPE::merge_word (byte fallback, then unk, else dropped). */
  private symbols(word: string): number[] {
    const sym: number[] = [];
    let unkLen = 0; // pending (fusable) unknown
    const enc = new TextEncoder();
    for (const ch of word) {
      const id = this.vocab.get(ch);
      if (id !== undefined) {
        if (unkLen) {
          sym.push(this.unkId);
          unkLen = 0;
        }
        sym.push(id);
        continue;
      }
      if (this.byteIds) {
        const bytes = enc.encode(ch);
        const ids = Array.from(bytes, (b) => this.byteIds![b]);
        if (ids.every((x) => x >= 0)) {
          for (const x of ids) sym.push(x);
          continue;
        }
      }
      if (this.unkId >= 0) {
        if (unkLen && !this.opts.fuseUnk) sym.push(this.unkId);
        unkLen = 1;
      }
      // no unk token: HF drops the character
    }
    if (unkLen) sym.push(this.unkId);
    return sym;
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
}
