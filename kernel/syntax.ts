// Pure text helpers shared by the main thread and the worker: is_complete, the word at the
// cursor, and kernel_info (so the message loop never waits for the worker to answer these).

import { readFileSync } from "node:fs";
import { KernelInfo } from "./protocol.js";
import { IsCompleteResult } from "./protocol.js";
import { DiagnosticBag } from "../compiler/diagnostics.js";
import { parseSource } from "../compiler/parser.js";
import { SourceFile } from "../compiler/source.js";

export const LANGUAGE = "tensorcore";

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
}

export const VERSION = packageVersion();

export const LANGUAGE_INFO = {
  name: LANGUAGE,
  version: VERSION,
  mimetype: "text/x-tensorcore",
  file_extension: ".ta",
  // Highlighting: JupyterLab's by the .ta language extension (labextension/, registered under this
  // name); nbconvert's by pygments, whose closest lexer is C's.
  pygments_lexer: "c",
  codemirror_mode: "tensorcore",
  nbconvert_exporter: "script",
};

export function kernelInfo(): KernelInfo {
  return {
    implementation: "tensorcore",
    implementation_version: VERSION,
    language_info: LANGUAGE_INFO,
    banner: `TensorCore ${VERSION}: tensor kernels in the notebook. %help lists the magics.`,
    help_links: [{ text: "TensorCore kernel", url: "https://github.com/tensorcore/tensorcore/blob/main/docs/kernel.md" }],
  };
}

/**
 * For the console: "invalid" for code that can never parse (a closer without an opener, or a
 * syntax error before the end of the input: `kernel 1x(`), "incomplete" while a brace, bracket
 * or parenthesis (or a block comment) is open at the end, otherwise "complete" (a missing `;`
 * at the very end is left for the run to report). Magic lines are complete.
 */
export function isComplete(code: string): IsCompleteResult {
  let depth = 0;
  let i = 0;
  const n = code.length;
  let lineStart = true;
  const chunks: string[] = []; // the code between magic lines, run (and so parsed) one by one
  let chunkStart = 0;
  while (i < n) {
    const c = code[i];
    if (lineStart) {
      let j = i;
      while (j < n && (code[j] === " " || code[j] === "\t")) j++;
      if (code[j] === "%" && depth === 0) { // a magic line: skip it
        while (j < n && code[j] !== "\n") j++;
        chunks.push(code.slice(chunkStart, i));
        chunkStart = j;
        i = j;
        continue;
      }
      lineStart = false;
    }
    if (c === "\n") { lineStart = true; i++; continue; }
    if (c === "/" && code[i + 1] === "/") { while (i < n && code[i] !== "\n") i++; continue; }
    if (c === "/" && code[i + 1] === "*") {
      const end = code.indexOf("*/", i + 2);
      if (end < 0) return { status: "incomplete", indent: "" };
      i = end + 2;
      continue;
    }
    if (c === '"') {
      // to the closing quote or the line's end, whichever comes first (an indexOf of each scanned
      // the rest of the text for every quote: 4 MB of quotes held the main thread for a minute)
      let end = i + 1;
      while (end < n && code[end] !== '"' && code[end] !== "\n") end++;
      if (end >= n || code[end] === "\n") return { status: "invalid" };
      i = end + 1;
      continue;
    }
    if (c === "{" || c === "(" || c === "[") depth++;
    else if (c === "}" || c === ")" || c === "]") { depth--; if (depth < 0) return { status: "invalid" }; }
    i++;
  }
  chunks.push(code.slice(chunkStart));
  // The parser decides the rest: a syntax error before the end of the input can never be fixed
  // by typing more.
  for (const chunk of chunks) {
    const bag = new DiagnosticBag();
    parseSource(new SourceFile("cell", chunk), bag);
    const end = chunk.trimEnd().length;
    if (bag.items.some((d) => d.severity === "error" && (d.span?.start ?? end) < end)) return { status: "invalid" };
  }
  if (depth > 0) return { status: "incomplete", indent: "    ".repeat(depth) };
  return { status: "complete" };
}

const IDENT = /[A-Za-z_][A-Za-z0-9_]*/y;

/** The identifier around the cursor: [start, end) and its text ("" when there is none). */
export function wordAt(code: string, cursor: number): { start: number; end: number; text: string } {
  let start = cursor;
  while (start > 0 && /[A-Za-z0-9_]/.test(code[start - 1])) start--;
  let end = cursor;
  while (end < code.length && /[A-Za-z0-9_]/.test(code[end])) end++;
  IDENT.lastIndex = start;
  if (!IDENT.test(code) && start < end) start = end; // starts with a digit: not a name
  return { start, end, text: code.slice(start, end) };
}

/**
 * The name of the call whose arguments the cursor is in (`SOFTMAX(x, |` → SOFTMAX): back to the
 * nearest parenthesis, which must open, then over spaces to a name. One backward scan (a regular
 * expression anchored at the end retried from every position: 300 KB took 76 s).
 */
export function calleeAt(code: string, cursor: number): string | undefined {
  let i = Math.min(cursor, code.length) - 1;
  while (i >= 0 && code[i] !== "(" && code[i] !== ")") i--;
  if (i < 0 || code[i] === ")") return undefined;
  let end = i;
  while (end > 0 && /\s/.test(code[end - 1])) end--;
  let start = end;
  while (start > 0 && /\w/.test(code[start - 1])) start--;
  while (start < end && /[0-9]/.test(code[start])) start++; // a name starts with a letter or _
  return start < end ? code.slice(start, end) : undefined;
}

/** The line the cursor is on, and the cursor's column in it. */
export function lineAt(code: string, cursor: number): { text: string; start: number; col: number } {
  const start = code.lastIndexOf("\n", cursor - 1) + 1;
  let end = code.indexOf("\n", cursor);
  if (end < 0) end = code.length;
  return { text: code.slice(start, end), start, col: cursor - start };
}
