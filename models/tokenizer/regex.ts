// Oniguruma patterns (as written in tokenizer.json, for HF tokenizers' Rust regex engine) translated to
// JavaScript RegExps with the same matches.
//
// HF compiles patterns with Oniguruma, whose character classes differ from V8's in ways that change
// token ids (found by classifying every code point with tokenizers 0.23.3 against Node 20's ICU):
//  * `\s` is Unicode White_Space: U+0085 (NEL) is whitespace, U+FEFF (BOM) is not (JS `\s` is the
//    other way round) -> `\p{White_Space}`;
//  * Oniguruma's tables are Unicode 16: letters/digits first assigned in Unicode 17 count as "other"
//    there, so they are subtracted from `\p{L}` / `\p{N}` (harmless on an older ICU);
//  * `.` excludes only `\n`; `(?i:...)` folds ASCII letters with their Unicode simple case folds
//    (`s` also matches U+017F, `k` also matches U+212A).
// Only the constructs the hub's pre-tokenizer patterns use are translated; anything else is refused
// with the construct named, never approximated.

import { TokenizerError } from "./errors.js";

const U17_LETTERS =
  "\\u{88F}\\u{C5C}\\u{CDC}\\u{A7CE}\\u{A7CF}\\u{A7D2}\\u{A7D4}\\u{A7F1}\\u{10940}-\\u{10959}\\u{10EC5}-\\u{10EC7}" +
  "\\u{11DB0}-\\u{11DDB}\\u{16EA0}-\\u{16EB8}\\u{16EBB}-\\u{16ED3}\\u{16FF2}\\u{16FF3}\\u{187F8}-\\u{187FF}" +
  "\\u{18D09}-\\u{18D1E}\\u{18D80}-\\u{18DF2}\\u{1E6C0}-\\u{1E6DE}\\u{1E6E0}-\\u{1E6E2}\\u{1E6E4}\\u{1E6E5}" +
  "\\u{1E6E7}-\\u{1E6ED}\\u{1E6F0}-\\u{1E6F4}\\u{1E6FE}\\u{1E6FF}\\u{2B73A}-\\u{2B73F}\\u{2CEA2}-\\u{2CEAD}\\u{323B0}-\\u{33479}";
const U17_NUMBERS = "\\u{11DE0}-\\u{11DE9}\\u{16FF4}-\\u{16FF6}";
/** `\p{L}` and `\p{N}` as Oniguruma (Unicode 16) sees them, as v-flag classes. */
export const CLASS_L = `[\\p{L}--[${U17_LETTERS}]]`;
export const CLASS_N = `[\\p{N}--[${U17_NUMBERS}]]`;
export const CLASS_WS = "\\p{White_Space}";

/** The GPT-2 pre-tokenization pattern as written in GPT-2 / HF (what ByteLevel's use_regex applies). */
export const GPT2_PATTERN_SOURCE = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

export class PatternError extends TokenizerError {}

const SYNTAX = new Set("^$\\.*+?()[]{}|/");
// characters that need a backslash inside a v-flag class (syntax characters and reserved punctuators)
const CLASS_RESERVED = new Set("()[]{}/-\\|&!#%,:;<=>@`~^$.*+?");
const CASE_EXTRA: Record<string, string> = { s: "\u017f", k: "\u212a" };

function propertyClass(name: string, negated: boolean, inClass: boolean): string {
  let cls: string;
  if (name === "L" || name === "Letter") cls = CLASS_L;
  else if (name === "N" || name === "Number") cls = CLASS_N;
  else {
    // any other property: accepted only if V8 knows it under the same name
    try {
      new RegExp(`\\p{${name}}`, "v");
    } catch {
      throw new PatternError(`unknown Unicode property \\p{${name}}`);
    }
    cls = `[\\p{${name}}]`;
  }
  if (!negated) return cls;
  return inClass ? `[^${cls}]` : `[^${cls}]`;
}

/** Translates one escape starting at src[i] === "\\"; returns [js, next index]. */
function escape(src: string, i: number, inClass: boolean): [string, number] {
  const c = src[i + 1];
  if (c === undefined) throw new PatternError("pattern ends with a backslash");
  switch (c) {
    case "s": return [CLASS_WS, i + 2];
    case "S": return [inClass ? `[^${CLASS_WS}]` : "\\P{White_Space}", i + 2];
    case "d": return ["\\p{Nd}", i + 2];
    case "D": return [inClass ? "[^\\p{Nd}]" : "\\P{Nd}", i + 2];
    case "w": return ["[\\p{L}\\p{M}\\p{Nd}\\p{Pc}]", i + 2];
    case "W": return ["[^\\p{L}\\p{M}\\p{Nd}\\p{Pc}]", i + 2];
    case "r": case "n": case "t": case "f": case "v": return [`\\${c}`, i + 2];
    case "p": case "P": {
      let name: string;
      let end: number;
      if (src[i + 2] === "{") {
        end = src.indexOf("}", i + 3);
        if (end < 0) throw new PatternError("unterminated \\p{...}");
        name = src.slice(i + 3, end);
        end++;
      } else {
        name = src[i + 2] ?? "";
        end = i + 3;
      }
      let neg = c === "P";
      if (name.startsWith("^")) {
        neg = !neg;
        name = name.slice(1);
      }
      return [propertyClass(name, neg, inClass), end];
    }
    case "x": {
      let hex: string;
      let end: number;
      if (src[i + 2] === "{") {
        end = src.indexOf("}", i + 3);
        if (end < 0) throw new PatternError("unterminated \\x{...}");
        hex = src.slice(i + 3, end);
        end++;
      } else {
        hex = src.slice(i + 2, i + 4);
        end = i + 4;
      }
      if (!/^[0-9a-fA-F]{1,6}$/.test(hex)) throw new PatternError(`bad escape \\x${hex}`);
      return [`\\u{${hex}}`, end];
    }
    case "u": {
      const hex = src.slice(i + 2, i + 6);
      if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw new PatternError(`bad escape \\u${hex}`);
      return [`\\u{${hex}}`, i + 6];
    }
    default:
      // an escaped punctuation character is that character
      if (/[A-Za-z0-9]/.test(c)) throw new PatternError(`unsupported escape \\${c}`);
      return [literal(c, inClass, false), i + 2];
  }
}

function literal(ch: string, inClass: boolean, caseless: boolean): string {
  if (caseless && /[A-Za-z]/.test(ch)) {
    const lo = ch.toLowerCase();
    return `[${lo}${lo.toUpperCase()}${CASE_EXTRA[lo] ?? ""}]`;
  }
  if (caseless && ch.toLowerCase() !== ch.toUpperCase()) throw new PatternError(`case-insensitive non-ASCII letter '${ch}'`);
  if (inClass ? CLASS_RESERVED.has(ch) : SYNTAX.has(ch)) return `\\${ch}`;
  return ch;
}

// Backtracking cost. V8 (like Oniguruma) backtracks, so a pattern from a model folder could make
// tokenizing a short, ordinary prompt take hours: `(a+)+b` or `(a|a)+b` on 30 a's and a c tries
// every way to cut the run (exponential), and k unbounded repeats in one alternative over the same
// characters try every k-way cut (polynomial of degree k). Both are refused before anything is
// tokenized: a group repeated more than once may not itself repeat or alternate, and one alternative may hold at
// most MAX_LONG_REPEATS long repeats. The hub's pre-tokenizer patterns (GPT-2, Llama 3, Qwen2, o200k,
// DeepSeek) repeat only single characters and classes, two long repeats per alternative at most.
const MAX_LONG_REPEATS = 2;
/** A repeat counts as long when unbounded or allowed more than this many times. */
const LONG_REPEAT = 16;

type GroupState = { caseless: boolean; variable: boolean; branchStart: number; branchMax: number };

/** Translates an Oniguruma pattern into the source of an equivalent JavaScript `v`-flag RegExp. */
export function translatePattern(src: string): string {
  let out = "";
  let i = 0;
  // per open group: its case-insensitivity, whether what it matches varies in length (a repeat or
  // an alternation inside: then it may not be repeated itself), and the long-repeat count where it
  // began and the most any of its alternatives reached
  const groups: GroupState[] = [];
  let caseless = false;
  let longRepeats = 0; // in the current top-level alternative, nested groups included
  // what a quantifier would apply to: a group that repeats or alternates inside, or anything else
  let lastAtom: "none" | "simple" | "complex" = "none";
  const inside = () => groups[groups.length - 1];
  const atom = (kind: "simple" | "complex") => { lastAtom = kind; };
  while (i < src.length) {
    const ch = src[i];
    if (ch === "\\") {
      const [js, next] = escape(src, i, false);
      out += js;
      i = next;
      atom("simple");
    } else if (ch === "[") {
      const [js, next] = charClass(src, i, caseless);
      out += js;
      i = next;
      atom("simple");
    } else if (ch === "(") {
      const open = (js: string, len: number, caseInsensitive: boolean) => {
        groups.push({ caseless, variable: false, branchStart: longRepeats, branchMax: longRepeats });
        caseless = caseInsensitive;
        out += js;
        i += len;
        lastAtom = "none";
      };
      if (src.startsWith("(?i:", i)) open("(?:", 4, true);
      else if (src.startsWith("(?:", i) || src.startsWith("(?=", i) || src.startsWith("(?!", i)) open(src.slice(i, i + 3), 3, caseless);
      else if (src.startsWith("(?<=", i) || src.startsWith("(?<!", i)) open(src.slice(i, i + 4), 4, caseless);
      else if (src[i + 1] === "?") throw new PatternError(`unsupported group ${src.slice(i, i + 4)}...`);
      else open("(?:", 1, caseless); // captures play no part in splitting
    } else if (ch === ")") {
      if (!groups.length) throw new PatternError("unbalanced ')'");
      const g = groups.pop()!;
      caseless = g.caseless;
      out += ")";
      i++;
      longRepeats = Math.max(longRepeats, g.branchMax);
      const parent = inside();
      if (parent && g.variable) parent.variable = true;
      atom(g.variable ? "complex" : "simple");
    } else if (ch === "*" || ch === "+" || ch === "?" || ch === "{") {
      let q: string;
      let max: number;
      if (ch === "{") {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(i));
        if (!m) throw new PatternError(`unsupported '{' at ${i}`);
        q = m[0];
        max = m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]);
      } else {
        q = ch;
        max = ch === "?" ? 1 : Infinity;
      }
      if (lastAtom === "none") throw new PatternError(`'${q}' at ${i} repeats nothing`);
      i += q.length;
      // possessive quantifiers (X++, X*+) change backtracking: refused
      if (src[i] === "+") throw new PatternError(`possessive quantifier ${q}+`);
      if (src[i] === "?") {
        q += "?";
        i++;
      }
      if (max > 1 && lastAtom === "complex")
        throw new PatternError(`'${q}' at ${i - q.length} repeats a group that itself repeats or has alternatives: matching could take exponential time`);
      const g = inside();
      if (g) g.variable = true;
      if (max > LONG_REPEAT && ++longRepeats > MAX_LONG_REPEATS)
        throw new PatternError(`more than ${MAX_LONG_REPEATS} long repeats in one alternative (the last at ${i - q.length}): matching could take time growing as the text's length to the power ${longRepeats}`);
      out += q;
      lastAtom = "none"; // X** and X+* are not Oniguruma's to translate
    } else if (ch === ".") {
      out += "[^\\n]";
      i++;
      atom("simple");
    } else if (ch === "^" || ch === "$") {
      throw new PatternError(`anchor '${ch}'`);
    } else if (ch === "|") {
      out += "|";
      i++;
      const g = inside();
      if (g) {
        g.variable = true;
        g.branchMax = Math.max(g.branchMax, longRepeats);
        longRepeats = g.branchStart; // each alternative of the group counts from where the group began
      } else longRepeats = 0;
      lastAtom = "none";
    } else {
      const cp = src.codePointAt(i)!;
      const s = String.fromCodePoint(cp);
      out += literal(s, false, caseless);
      i += s.length;
      atom("simple");
    }
  }
  if (groups.length) throw new PatternError("unbalanced '('");
  return out;
}

function charClass(src: string, start: number, caseless: boolean): [string, number] {
  let i = start + 1;
  let out = "[";
  if (src[i] === "^") {
    out += "^";
    i++;
  }
  let first = true;
  while (i < src.length && (src[i] !== "]" || first)) {
    first = false;
    const ch = src[i];
    if (ch === "[") throw new PatternError("nested or POSIX bracket in a character class");
    if (src.startsWith("&&", i)) throw new PatternError("class intersection '&&'");
    let item: string;
    if (ch === "\\") {
      [item, i] = escape(src, i, true);
    } else {
      const s = String.fromCodePoint(src.codePointAt(i)!);
      if (caseless && s.toLowerCase() !== s.toUpperCase()) throw new PatternError("case-insensitive character class");
      item = s === "-" && out.length > 1 && src[i + 1] !== "]" ? "-" : literal(s, true, false);
      i += s.length;
    }
    out += item;
  }
  if (src[i] !== "]") throw new PatternError("unterminated character class");
  return [out + "]", i + 1];
}

/** Compiles an Oniguruma pattern from tokenizer.json; `where` names the field in errors. */
export function compilePattern(src: string, where: string): RegExp {
  try {
    return new RegExp(translatePattern(src), "gv");
  } catch (e) {
    const why = e instanceof PatternError ? e.message : `not valid after translation (${(e as Error).message})`;
    throw new PatternError(`${where}: regex ${JSON.stringify(src)} is not supported: ${why}`);
  }
}

/** The GPT-2 pre-tokenization regex, behaving as HF tokenizers' ByteLevel pre-tokenizer (flags `gv`). */
export const GPT2_PATTERN = compilePattern(GPT2_PATTERN_SOURCE, "ByteLevel");
