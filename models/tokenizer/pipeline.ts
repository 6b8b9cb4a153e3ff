// The components of a tokenizer.json pipeline, each built from its JSON as HF tokenizers reads it:
// normalizer -> pre_tokenizer -> (model) -> post_processor on encode, decoder on decode.
// A component type or option this file does not implement is refused, naming the field and value.

import { TokenizerError } from "./errors.js";
import { compilePattern, GPT2_PATTERN } from "./regex.js";

// deno-lint-ignore no-explicit-any
type Json = any;

/** A piece of text on its way to the model; `atStart`: it begins at offset 0 of the original text. */
export interface Piece {
  text: string;
  atStart: boolean;
}

export type Normalizer = (s: string) => string;
export type PreTokenizer = (p: Piece) => Piece[];
export type Decoder = (tokens: string[]) => string[];
export type PostProcessor = (ids: number[]) => number[];

function refuse(field: string, value: unknown, why = "is not supported"): never {
  throw new TokenizerError(`tokenizer.json ${field} ${JSON.stringify(value)} ${why}`);
}

function type(j: Json, field: string): string {
  if (j === null || typeof j !== "object" || typeof j.type !== "string") refuse(field, j, "has no type");
  return j.type;
}

/** A `{"String": s}` or `{"Regex": r}` pattern as a global RegExp. */
function pattern(p: Json, field: string): RegExp {
  if (p && typeof p.String === "string") return new RegExp(p.String.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&"), "gv");
  if (p && typeof p.Regex === "string") return compilePattern(p.Regex, field);
  return refuse(`${field}.pattern`, p);
}

// ---- normalizers ---------------------------------------------------------------------------

export function buildNormalizer(j: Json, field = "normalizer"): Normalizer | null {
  if (j === null || j === undefined) return null;
  const t = type(j, field);
  switch (t) {
    case "Sequence": {
      const parts = (j.normalizers as Json[]).map((n, i) => buildNormalizer(n, `${field}.normalizers[${i}]`)).filter((n): n is Normalizer => n !== null);
      return (s) => parts.reduce((acc, n) => n(acc), s);
    }
    case "NFC": case "NFD": case "NFKC": case "NFKD":
      return (s) => s.normalize(t);
    case "Lowercase":
      return (s) => s.toLowerCase();
    case "Prepend": {
      const pre = String(j.prepend);
      return (s) => (s.length ? pre + s : s);
    }
    case "Replace": {
      const re = pattern(j.pattern, field);
      const content = String(j.content);
      return (s) => s.replace(re, () => content);
    }
    case "Strip": {
      const left = j.strip_left !== false, right = j.strip_right !== false;
      return (s) => {
        if (left) s = s.replace(/^\p{White_Space}+/u, "");
        if (right) s = s.replace(/\p{White_Space}+$/u, "");
        return s;
      };
    }
    default:
      return refuse(`${field}.type`, t);
  }
}

// ---- splitting as HF's NormalizedString::split ----------------------------------------------

type Behavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/** Splits `text` by the matches of `re`, with HF's SplitDelimiterBehavior; empty pieces are dropped. */
export function splitBy(p: Piece, re: RegExp, behavior: Behavior, invert = false): Piece[] {
  const text = p.text;
  const segs: Array<[number, number, boolean]> = [];
  let prev = 0;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const s = m.index, e = s + m[0].length;
    if (e === s) re.lastIndex = s + (text.codePointAt(s)! > 0xffff ? 2 : 1); // step over an empty match
    if (prev !== s) segs.push([prev, s, false]);
    segs.push([s, e, true]);
    prev = e;
  }
  if (prev !== text.length) segs.push([prev, text.length, false]);
  if (invert) for (const g of segs) g[2] = !g[2];
  let spans: Array<[number, number, boolean]>; // [start, end, removed]
  switch (behavior) {
    case "Isolated":
      spans = segs.map(([s, e]) => [s, e, false]);
      break;
    case "Removed":
      spans = segs;
      break;
    case "Contiguous":
    case "MergedWithPrevious": {
      spans = [];
      let prevMatch = false;
      for (const [s, e, isMatch] of segs) {
        const merge = behavior === "Contiguous" ? isMatch === prevMatch : isMatch && !prevMatch;
        if (merge && spans.length) spans[spans.length - 1][1] = e;
        else spans.push([s, e, false]);
        prevMatch = isMatch;
      }
      break;
    }
    case "MergedWithNext": {
      spans = [];
      let prevMatch = false;
      for (let k = segs.length - 1; k >= 0; k--) {
        const [s, e, isMatch] = segs[k];
        if (isMatch && !prevMatch && spans.length) spans[spans.length - 1][0] = s;
        else spans.push([s, e, false]);
        prevMatch = isMatch;
      }
      spans.reverse();
      break;
    }
  }
  const out: Piece[] = [];
  for (const [s, e, removed] of spans) {
    if (removed || e === s) continue;
    out.push({ text: text.slice(s, e), atStart: p.atStart && s === 0 });
  }
  return out;
}

// ---- pre-tokenizers -------------------------------------------------------------------------

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

export const BYTE_CHARS = bytesToUnicode();
/** byte-level char code -> byte, -1 if the char is not in the alphabet (all are < U+0200) */
export const CHAR_BYTE = (() => {
  const t = new Int16Array(512).fill(-1);
  for (let b = 0; b < 256; b++) t[BYTE_CHARS[b].charCodeAt(0)] = b;
  return t;
})();

const utf8 = new TextEncoder();

/** A text's UTF-8 bytes written in the byte-level alphabet. */
export function toByteLevel(s: string): string {
  let out = "";
  for (const b of utf8.encode(s)) out += BYTE_CHARS[b];
  return out;
}

const BEHAVIORS = new Set(["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"]);

function metaspaceScheme(j: Json, field: string): "always" | "first" | "never" {
  if (j.prepend_scheme !== undefined) {
    const s = String(j.prepend_scheme).toLowerCase();
    if (s === "always" || s === "first" || s === "never") return s;
    return refuse(`${field}.prepend_scheme`, j.prepend_scheme);
  }
  return j.add_prefix_space === false ? "never" : "always"; // older files
}

export function buildPreTokenizer(j: Json, field = "pre_tokenizer"): PreTokenizer | null {
  if (j === null || j === undefined) return null;
  const t = type(j, field);
  switch (t) {
    case "Sequence": {
      const parts = (j.pretokenizers as Json[]).map((p, i) => buildPreTokenizer(p, `${field}.pretokenizers[${i}]`)).filter((p): p is PreTokenizer => p !== null);
      return (p) => parts.reduce<Piece[]>((acc, f) => acc.flatMap(f), [p]);
    }
    case "ByteLevel": {
      const prefix = j.add_prefix_space === true;
      const useRegex = j.use_regex !== false;
      const re = new RegExp(GPT2_PATTERN.source, "gv");
      return (p) => {
        const piece = prefix && !p.text.startsWith(" ") ? { text: " " + p.text, atStart: p.atStart } : p;
        const parts = useRegex ? splitBy(piece, re, "Isolated") : [piece];
        return parts.map((q) => ({ text: toByteLevel(q.text), atStart: q.atStart }));
      };
    }
    case "Split": {
      if (!BEHAVIORS.has(j.behavior)) refuse(`${field}.behavior`, j.behavior);
      const re = pattern(j.pattern, field);
      const invert = j.invert === true;
      return (p) => splitBy(p, re, j.behavior, invert);
    }
    case "Metaspace": {
      const rep = String(j.replacement ?? "▁");
      const scheme = metaspaceScheme(j, field);
      const split = j.split !== false;
      const repRe = new RegExp(rep.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&"), "gv");
      return (p) => {
        let text = p.text.replaceAll(" ", rep);
        if ((scheme === "always" || (scheme === "first" && p.atStart)) && !text.startsWith(rep)) text = rep + text;
        const q = { text, atStart: p.atStart };
        return split ? splitBy(q, repRe, "MergedWithNext") : [q];
      };
    }
    case "Digits": {
      const re = /\p{N}/gv;
      const behavior: Behavior = j.individual_digits ? "Isolated" : "Contiguous";
      return (p) => splitBy(p, re, behavior);
    }
    default:
      return refuse(`${field}.type`, t);
  }
}

// ---- post-processors ------------------------------------------------------------------------

export function buildPostProcessor(j: Json, field = "post_processor"): PostProcessor | null {
  if (j === null || j === undefined) return null;
  const t = type(j, field);
  switch (t) {
    case "Sequence": {
      const parts = (j.processors as Json[]).map((p, i) => buildPostProcessor(p, `${field}.processors[${i}]`)).filter((p): p is PostProcessor => p !== null);
      return (ids) => parts.reduce((acc, f) => f(acc), ids);
    }
    case "ByteLevel":
      return null; // only adjusts offsets
    case "TemplateProcessing": {
      const special = j.special_tokens ?? {};
      const items: Array<number[] | "A"> = [];
      for (const [k, it] of (j.single as Json[]).entries()) {
        if (it.Sequence) {
          if (it.Sequence.id !== "A") refuse(`${field}.single[${k}].Sequence.id`, it.Sequence.id);
          items.push("A");
        } else if (it.SpecialToken) {
          const sp = special[it.SpecialToken.id];
          if (!sp || !Array.isArray(sp.ids) || !sp.ids.every((x: unknown) => Number.isInteger(x) && (x as number) >= 0)) {
            refuse(`${field}.special_tokens`, it.SpecialToken.id, "is missing or has bad ids");
          }
          items.push(sp.ids as number[]);
        } else refuse(`${field}.single[${k}]`, it);
      }
      return (ids) => items.flatMap((it) => (it === "A" ? ids : it));
    }
    case "RobertaProcessing":
    case "BertProcessing": {
      const cls = j.cls?.[1], sep = j.sep?.[1];
      if (!Number.isInteger(cls) || !Number.isInteger(sep)) refuse(field, j, "has bad cls/sep");
      return (ids) => [cls, ...ids, sep];
    }
    default:
      return refuse(`${field}.type`, t);
  }
}

/** The ids a post-processor puts before and after the text's ids (from a probe, as HF counts them). */
export function templateIds(pp: PostProcessor | null): { before: number[]; after: number[] } {
  if (!pp) return { before: [], after: [] };
  const probe = -12345;
  const out = pp([probe]);
  const k = out.indexOf(probe);
  return { before: out.slice(0, k), after: out.slice(k + 1) };
}

// ---- decoders -------------------------------------------------------------------------------

const lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** HF's ByteLevel decoder: a token of byte-level characters is its bytes, any other its UTF-8 text. */
export function byteLevelBytes(tokens: string[]): Uint8Array {
  const out: number[] = [];
  for (const t of tokens) {
    let ok = true;
    const start = out.length;
    for (let i = 0; i < t.length; i++) {
      const c = t.charCodeAt(i);
      const b = c < 512 ? CHAR_BYTE[c] : -1;
      if (b < 0) {
        ok = false;
        break;
      }
      out.push(b);
    }
    if (!ok) {
      out.length = start;
      for (const b of utf8.encode(t)) out.push(b);
    }
  }
  return Uint8Array.from(out);
}

const BYTE_TOKEN = /^<0x([0-9A-Fa-f]{2})>$/;

export function buildDecoder(j: Json, field = "decoder"): Decoder | null {
  if (j === null || j === undefined) return null;
  const t = type(j, field);
  switch (t) {
    case "Sequence": {
      const parts = (j.decoders as Json[]).map((d, i) => buildDecoder(d, `${field}.decoders[${i}]`)).filter((d): d is Decoder => d !== null);
      return (toks) => parts.reduce((acc, d) => d(acc), toks);
    }
    case "ByteLevel":
      return (toks) => [lossy.decode(byteLevelBytes(toks))];
    case "Replace": {
      const re = pattern(j.pattern, field);
      const content = String(j.content);
      return (toks) => toks.map((s) => s.replace(re, () => content));
    }
    case "ByteFallback":
      return (toks) => {
        const out: string[] = [];
        let bytes: number[] = [];
        const flush = () => {
          if (!bytes.length) return;
          try {
            out.push(strict.decode(Uint8Array.from(bytes)));
          } catch {
            for (let i = 0; i < bytes.length; i++) out.push("\ufffd"); // one per byte, as HF
          }
          bytes = [];
        };
        for (const s of toks) {
          const m = BYTE_TOKEN.exec(s);
          if (m) bytes.push(parseInt(m[1], 16));
          else {
            flush();
            out.push(s);
          }
        }
        flush();
        return out;
      };
    case "Fuse":
      return (toks) => [toks.join("")];
    case "Strip": {
      const content = String(j.content);
      const start = Number(j.start ?? 0), stop = Number(j.stop ?? 0);
      return (toks) =>
        toks.map((s) => {
          const cs = Array.from(s);
          let a = 0, b = cs.length;
          while (a < start && a < b && cs[a] === content) a++;
          let k = 0;
          while (k < stop && b > a && cs[b - 1] === content) {
            b--;
            k++;
          }
          return cs.slice(a, b).join("");
        });
    }
    case "Metaspace": {
      const rep = String(j.replacement ?? "▁");
      const scheme = metaspaceScheme(j, field);
      return (toks) =>
        toks.map((s, i) => {
          let r = s.replaceAll(rep, " ");
          if (i === 0 && scheme !== "never" && r.startsWith(" ")) r = r.slice(1);
          return r;
        });
    }
    default:
      return refuse(`${field}.type`, t);
  }
}
