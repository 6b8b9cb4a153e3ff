// Scanner: source text to tokens. Comments (`//`, `/* */`) and white space are skipped here.

import { DiagnosticBag } from "./diagnostics.js";
import { SourceFile, Span } from "./source.js";

export type TokenKind = "ident" | "number" | "string" | "punct" | "eof";

export interface Token {
  kind: TokenKind;
  text: string; // identifier name, punctuation, or the literal's source text
  value?: number; // numbers: the parsed value
  isInt?: boolean; // numbers written without '.' or exponent
  span: Span;
}

// Longest first, so that "+:" and ".." win over "+" and ".".
const PUNCTUATION = ["+:", "..", "==", "!=", "<=", ">=", "{", "}", "(", ")", "[", "]", "<", ">", ",", ";", "=", "+", "-", "*", "/", ":", "%", "."];

const isDigit = (c: number) => c >= 48 && c <= 57;
const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentPart = (c: number) => isIdentStart(c) || isDigit(c);

export function tokenize(file: SourceFile, diags: DiagnosticBag): Token[] {
  const text = file.text;
  const tokens: Token[] = [];
  let i = 0;
  const span = (start: number, end: number): Span => ({ file, start, end });
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 9 || c === 10 || c === 13 || c === 0xfeff) { i++; continue; }
    if (c === 47 && text.charCodeAt(i + 1) === 47) { // line comment
      while (i < text.length && text.charCodeAt(i) !== 10) i++;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 42) { // block comment
      const end = text.indexOf("*/", i + 2);
      if (end < 0) {
        diags.error(span(i, i + 2), "unterminated block comment: '/*' has no closing '*/'");
        i = text.length;
      } else i = end + 2;
      continue;
    }
    const start = i;
    if (isIdentStart(c)) {
      while (i < text.length && isIdentPart(text.charCodeAt(i))) i++;
      tokens.push({ kind: "ident", text: text.slice(start, i), span: span(start, i) });
      continue;
    }
    if (isDigit(c) || (c === 46 && isDigit(text.charCodeAt(i + 1)))) {
      let isInt = true;
      while (isDigit(text.charCodeAt(i))) i++;
      // A '.' starts a fraction unless it is the range operator "..".
      if (text.charCodeAt(i) === 46 && text.charCodeAt(i + 1) !== 46) {
        isInt = false;
        i++;
        while (isDigit(text.charCodeAt(i))) i++;
      }
      const e = text.charCodeAt(i);
      if (e === 101 || e === 69) {
        let j = i + 1;
        if (text[j] === "+" || text[j] === "-") j++;
        if (isDigit(text.charCodeAt(j))) {
          isInt = false;
          i = j;
          while (isDigit(text.charCodeAt(i))) i++;
        }
      }
      const lit = text.slice(start, i);
      const value = Number(lit);
      if (!Number.isFinite(value)) diags.error(span(start, i), `number '${lit}' is out of range`);
      tokens.push({ kind: "number", text: lit, value: Number.isFinite(value) ? value : 0, isInt, span: span(start, i) });
      continue;
    }
    if (c === 34) { // string literal, used for weight names and file paths
      i++;
      while (i < text.length && text.charCodeAt(i) !== 34 && text.charCodeAt(i) !== 10) i++;
      if (text.charCodeAt(i) !== 34) {
        diags.error(span(start, i), "unterminated string literal");
        tokens.push({ kind: "string", text: text.slice(start + 1, i), span: span(start, i) });
      } else {
        i++;
        tokens.push({ kind: "string", text: text.slice(start + 1, i - 1), span: span(start, i) });
      }
      continue;
    }
    const p = PUNCTUATION.find((q) => text.startsWith(q, i));
    if (p) {
      i += p.length;
      tokens.push({ kind: "punct", text: p, span: span(start, i) });
      continue;
    }
    const cp = text.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    diags.error(span(i, i + ch.length), `unexpected character '${ch}' (U+${cp.toString(16).toUpperCase().padStart(4, "0")})`);
    i += ch.length;
  }
  tokens.push({ kind: "eof", text: "end of input", span: span(text.length, text.length) });
  return tokens;
}
