// Diagnostics shared by every phase: `file:line:col: error: message`, then the line and a caret.

import { Span, describeSpan } from "./source.js";

export interface Diagnostic {
  severity: "error" | "warning" | "note";
  message: string;
  span?: Span;
}

/** Collects diagnostics for one run of the front end; several errors are reported together. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  error(span: Span | undefined, message: string): void {
    this.items.push({ severity: "error", message, span });
  }
  warning(span: Span | undefined, message: string): void {
    this.items.push({ severity: "warning", message, span });
  }
  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }
}

/** Thrown to abort a phase with user-facing diagnostics (never a TypeScript stack trace). */
export class DiagnosticError extends Error {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[]) {
    const sorted = sortDiagnostics(diagnostics);
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

export function formatDiagnostic(d: Diagnostic): string {
  if (!d.span) return `${d.severity}: ${d.message}`;
  const { file } = d.span;
  const p = file.position(d.span.start);
  const lineText = file.lineText(p.line);
  const width = Math.max(1, Math.min(d.span.end, file.lineStarts[p.line] ?? file.text.length) - d.span.start);
  const caretPad = lineText.slice(0, p.col - 1).replace(/[^\t]/g, " ");
  const caret = "^" + (width > 1 ? "~".repeat(Math.min(width - 1, Math.max(0, lineText.length - p.col))) : "");
  return `${describeSpan(d.span)}: ${d.severity}: ${d.message}\n  ${lineText}\n  ${caretPad}${caret}`;
}

export function formatDiagnostics(ds: Diagnostic[]): string {
  return ds.map(formatDiagnostic).join("\n");
}
