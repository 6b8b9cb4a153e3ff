// Diagnostics shared by every phase: `file:line:col: error: message`, then the line and a caret.

import { Span, describeSpan } from "./source.js";

export interface Diagnostic {
  severity: "error" | "warning" | "note";
  message: string;
  span?: Span;
}

/**
 * The most diagnostics one report shows (as compilers' -fmax-errors): a binary file or a line of
 * 20,000 stray characters would otherwise give an error per character, each echoing its line.
 */
export const MAX_DIAGNOSTICS = 50;

/** Collects diagnostics for one run of the front end; several errors are reported together. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  /** Errors past MAX_DIAGNOSTICS, counted but not kept. */
  dropped = 0;
  error(span: Span | undefined, message: string): void {
    this.add({ severity: "error", message, span });
  }
  warning(span: Span | undefined, message: string): void {
    this.add({ severity: "warning", message, span });
  }
  private add(d: Diagnostic): void {
    if (this.items.length < MAX_DIAGNOSTICS) this.items.push(d);
    else if (d.severity === "error") this.dropped++;
  }
  get hasErrors(): boolean {
    return this.dropped > 0 || this.items.some((d) => d.severity === "error");
  }
}

/** Thrown to abort a phase with user-facing diagnostics (never a TypeScript stack trace). */
export class DiagnosticError extends Error {
  readonly diagnostics: Diagnostic[];
  /** dropped: errors a DiagnosticBag counted past MAX_DIAGNOSTICS without keeping them. */
  constructor(diagnostics: Diagnostic[], dropped = 0) {
    const all = sortDiagnostics(diagnostics);
    const sorted = all.slice(0, MAX_DIAGNOSTICS);
    const more = all.length - sorted.length + dropped;
    if (more > 0) sorted.push({ severity: "error", message: `${more} more error${more === 1 ? "" : "s"} not shown (the first ${MAX_DIAGNOSTICS} are)` });
    super(sorted.map(formatDiagnostic).join("\n"));
    this.diagnostics = sorted;
    this.name = "DiagnosticError";
  }
}

/** Run-time faults in a program (index out of range, division by zero, a bad weight file). */
export class RuntimeFault extends DiagnosticError {
  constructor(span: Span | undefined, message: string) {
    super([{ severity: "error", message, span }]);
    this.name = "RuntimeFault";
  }
}

/** Raised when a run is interrupted by its host (Jupyter interrupt, Ctrl-C). */
export class Interrupted extends Error {
  constructor() {
    super("interrupted");
    this.name = "Interrupted";
  }
}

/** Source order (stable for equal positions), so parse and check errors interleave by line. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  const files: unknown[] = [];
  for (const d of ds) if (d.span && !files.includes(d.span.file)) files.push(d.span.file);
  return ds
    .map((d, i) => ({ d, i }))
    .sort((a, b) => {
      const fa = a.d.span ? files.indexOf(a.d.span.file) : -1, fb = b.d.span ? files.indexOf(b.d.span.file) : -1;
      if (fa !== fb) return fa - fb;
      return (a.d.span?.start ?? 0) - (b.d.span?.start ?? 0) || a.i - b.i;
    })
    .map((x) => x.d);
}

/** Characters of a long source line shown on each side of the error's column. */
const LINE_CONTEXT = 80;

export function formatDiagnostic(d: Diagnostic): string {
  if (!d.span) return `${d.severity}: ${d.message}`;
  const { file } = d.span;
  const p = file.position(d.span.start);
  let lineText = file.lineText(p.line);
  let col = p.col;
  // a long line (minified or binary input) is shown as a window around the column
  if (lineText.length > 2 * LINE_CONTEXT + 20) {
    const from = Math.max(0, col - 1 - LINE_CONTEXT), to = Math.min(lineText.length, col - 1 + LINE_CONTEXT);
    const head = from > 0 ? "…" : "";
    lineText = head + lineText.slice(from, to) + (to < lineText.length ? "…" : "");
    col = col - from + head.length;
  }
  const width = Math.max(1, Math.min(d.span.end, file.lineStarts[p.line] ?? file.text.length) - d.span.start);
  const caretPad = lineText.slice(0, col - 1).replace(/[^\t]/g, " ");
  const caret = "^" + (width > 1 ? "~".repeat(Math.min(width - 1, Math.max(0, lineText.length - col))) : "");
  return `${describeSpan(d.span)}: ${d.severity}: ${d.message}\n  ${lineText}\n  ${caretPad}${caret}`;
}

export function formatDiagnostics(ds: Diagnostic[]): string {
  return ds.map(formatDiagnostic).join("\n");
}
