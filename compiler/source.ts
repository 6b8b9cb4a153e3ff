// A source file and positions in it. Every AST node, IR node and diagnostic points back here.

export class SourceFile {
  readonly lineStarts: number[];
  constructor(readonly name: string, readonly text: string) {
    this.lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.lineStarts.push(i + 1);
  }
  /** 1-based line and column of a character offset. */
  position(offset: number): { line: number; col: number } {
    let lo = 0, hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid; else hi = mid - 1;
    }
    return { line: lo + 1, col: offset - this.lineStarts[lo] + 1 };
  }
  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? this.text.length;
    const end = line < this.lineStarts.length ? this.lineStarts[line] - 1 : this.text.length;
    return this.text.slice(start, end).replace(/\r$/, "");
  }
}

/** A half-open range of characters in one source file. */
export interface Span {
  file: SourceFile;
  start: number;
  end: number;
}

export function spanFrom(a: Span, b: Span): Span {
  return { file: a.file, start: a.start, end: Math.max(a.end, b.end) };
}

export function describeSpan(span: Span): string {
  const p = span.file.position(span.start);
  return `${span.file.name}:${p.line}:${p.col}`;
}
