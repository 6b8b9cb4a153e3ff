// Hand-written recursive-descent parser: tokens to AST. It recovers at ';' and '}' so that
// one run reports several syntax errors.

import * as A from "./ast.js";
import { DiagnosticBag } from "./diagnostics.js";
import { Token, tokenize } from "./lexer.js";
import { SourceFile, Span, spanFrom } from "./source.js";
import { MAX_NESTING, nestingMessage, tooDeep } from "./depth.js";

class ParseAbort extends Error {}


export function parseSource(file: SourceFile, diags: DiagnosticBag): A.Program {
  return new Parser(tokenize(file, diags), diags).parseProgram();
}

class Parser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly tokens: Token[], private readonly diags: DiagnosticBag) {}

  private get tok(): Token { return this.tokens[this.pos]; }
  private peek(n = 1): Token { return this.tokens[Math.min(this.pos + n, this.tokens.length - 1)]; }
  private is(text: string): boolean { const t = this.tok; return (t.kind === "punct" || t.kind === "ident") && t.text === text; }
  private next(): Token { const t = this.tok; if (t.kind !== "eof") this.pos++; return t; }
  private accept(text: string): Token | undefined { return this.is(text) ? this.next() : undefined; }

  private fail(message: string, span: Span = this.tok.span): never {
    this.diags.error(span, message);
    throw new ParseAbort();
  }
  private describe(t: Token): string {
    return t.kind === "eof" ? "end of input" : `'${t.text}'`;
  }
  private expect(text: string, context: string): Token {
    if (this.is(text)) return this.next();
    return this.fail(`expected '${text}' ${context}, found ${this.describe(this.tok)}`);
  }
  private ident(context: string): Token {
    if (this.tok.kind === "ident") return this.next();
    return this.fail(`expected a name ${context}, found ${this.describe(this.tok)}`);
  }

  /** Skip to just after the next ';' at this brace depth, or to a '}' / top-level keyword. */
  private recover(stopAtBrace: boolean): void {
    let depth = 0;
    while (this.tok.kind !== "eof") {
      const t = this.tok.text;
      if (this.tok.kind === "punct") {
        if (t === "{") depth++;
        else if (t === "}") {
          if (depth === 0) { if (!stopAtBrace) this.next(); return; }
          depth--;
          if (depth === 0 && !stopAtBrace) { this.next(); return; }
        } else if (t === ";" && depth === 0) { this.next(); return; }
      } else if (depth === 0 && this.tok.kind === "ident" && !stopAtBrace && (t === "kernel" || t === "type" || t === "const" || t === "target")) {
        return;
      }
      this.next();
    }
  }

  parseProgram(): A.Program {
    const items: A.Item[] = [];
    while (this.tok.kind !== "eof") {
      const before = this.pos;
      try {
        const item = this.parseItem();
        // Deep input is a located error here, before any later stage recurses into it.
        const deep = tooDeep(item);
        if (deep) this.diags.error(deep.span, nestingMessage(deep.what));
        else items.push(item);
      } catch (e) {
        if (!(e instanceof ParseAbort)) throw e;
        this.depth = 0;
        this.recover(false);
        if (this.pos === before) this.next();
      }
    }
    return { items };
  }

  private parseItem(): A.Item {
    if (this.is("kernel")) return this.parseKernel();
    if (this.is("type") && this.peek().kind === "ident") return this.parseTypeDecl();
    if (this.is("target") && this.peek().kind === "ident" && this.peek(2).text === "{") return this.parseTarget();
    return this.parseStmt(true);
  }

  private parseTarget(): A.TargetDecl {
    const start = this.next().span;
    const name = this.ident("after 'target'");
    this.expect("{", "to open the target block");
    const entries: A.TargetDecl["entries"] = [];
    while (!this.is("}")) {
      if (this.tok.kind === "eof") this.fail("expected '}' to close the target block");
      const key = this.ident("(a target setting)");
      this.expect("=", `after target setting '${key.text}'`);
      const v = this.next();
      if (v.kind !== "ident" && v.kind !== "number" && v.kind !== "string") this.fail(`expected a name or number for target setting '${key.text}'`, v.span);
      this.expect(";", "after a target setting");
      entries.push({ key: key.text, value: v.kind === "number" ? v.value! : v.text, span: spanFrom(key.span, v.span) });
    }
    const end = this.next().span;
    return { kind: "target", name: name.text, entries, span: spanFrom(start, end) };
  }

  private parseConst(): A.ConstDecl {
    const start = this.next().span;
    const name = this.ident("after 'const'");
    this.expect("=", `after const name '${name.text}'`);
    const value = this.parseExpr();
    const end = this.expect(";", "after the const value").span;
    return { kind: "const", name: name.text, nameSpan: name.span, value, span: spanFrom(start, end) };
  }

  private parseTypeDecl(): A.TypeDecl {
    const start = this.next().span;
    const name = this.ident("after 'type'");
    this.expect("=", `after type name '${name.text}'`);
    const type = this.parseTensorType();
    const end = this.expect(";", "after the type").span;
    return { kind: "type", name: name.text, nameSpan: name.span, type, span: spanFrom(start, end) };
  }

  private parseTensorType(): A.TensorTypeSyntax {
    const start = this.tok.span;
    if (!this.is("Tensor")) this.fail(`expected 'Tensor<...>', found ${this.describe(this.tok)}`);
    this.next();
    this.expect("<", "after 'Tensor'");
    const p = this.ident("(a precision: f32, f16, bf16, int8 or int32)");
    this.expect(",", "after the precision");
    this.expect("{", "to open the shape");
    const dims: A.Expr[] = [];
    if (!this.is("}")) {
      do dims.push(this.parseExpr()); while (this.accept(","));
    }
    this.expect("}", "to close the shape");
    let space: A.TensorTypeSyntax["space"];
    let layout: A.TensorTypeSyntax["layout"];
    if (this.accept(",")) {
      const s = this.ident("(a memory space: Global, L1, Shared or TileReg)");
      space = { name: s.text, span: s.span };
      if (this.accept(",")) {
        const l = this.ident("(a layout: RowMajor, ColMajor or Tiled(MxN))");
        layout = { name: l.text, span: l.span };
        if (l.text === "Tiled") {
          this.expect("(", "after 'Tiled'");
          const m = this.parsePrimary();
          let n: A.Expr;
          // "4x4" scans as the number 4 then the name "x4"; "4 x 4" as three tokens.
          if (this.tok.kind === "ident" && /^x\d+$/.test(this.tok.text)) {
            const t = this.next();
            n = { kind: "num", value: Number(t.text.slice(1)), isInt: true, span: { ...t.span, start: t.span.start + 1 } };
          } else {
            if (!this.is("x")) this.fail(`expected 'x' between the tile sizes, as in Tiled(4x4)`);
            this.next();
            n = this.parsePrimary();
          }
          const end = this.expect(")", "to close Tiled(...)").span;
          layout = { name: "Tiled", tile: [m, n], span: spanFrom(l.span, end) };
        }
      }
    }
    const end = this.expect(">", "to close 'Tensor<...>'").span;
    return { kind: "tensor", precision: { name: p.text, span: p.span }, dims, space, layout, span: spanFrom(start, end) };
  }

  private parseKernel(): A.KernelDecl {
    const start = this.next().span;
    const name = this.ident("after 'kernel'");
    this.expect("(", `after kernel name '${name.text}'`);
    const params: A.Param[] = [];
    if (!this.is(")")) {
      do {
        const t = this.ident("(a parameter type)");
        const n = this.ident(`after parameter type '${t.text}'`);
        params.push({ typeName: t.text, typeSpan: t.span, name: n.text, nameSpan: n.span });
      } while (this.accept(","));
    }
    this.expect(")", "to close the parameter list");
    this.expect("{", `to open the body of kernel '${name.text}'`);
    const body = this.parseBlockBody();
    const endTok = this.next();
    return { kind: "kernel", name: name.text, nameSpan: name.span, params, body, span: spanFrom(start, endTok.span), endSpan: endTok.span };
  }

  /** Statements up to (not including) the closing '}'. Errors inside recover per statement. */
  private parseBlockBody(): A.Stmt[] {
    const body: A.Stmt[] = [];
    while (!this.is("}")) {
      if (this.tok.kind === "eof") this.fail("expected '}' before the end of input");
      const before = this.pos;
      try {
        body.push(this.parseStmt(false));
      } catch (e) {
        if (!(e instanceof ParseAbort)) throw e;
        this.recover(true);
        if (this.is("}") && this.pos === before) break;
        if ((this.tok as Token).kind === "eof") throw e;
        if (this.pos === before) this.next();
      }
    }
    return body;
  }

  private parseStmt(topLevel: boolean): A.Stmt {
    if (this.is("const") && this.peek().kind === "ident") return this.parseConst();
    if (this.is("batch") && this.peek().text === "(") return this.parseBatch();
    // `Type name;` or `Type name = expr;`
    if (this.tok.kind === "ident" && this.peek().kind === "ident") {
      const t = this.next();
      const n = this.next();
      let init: A.Expr | undefined;
      if (this.accept("=")) init = this.parseExpr();
      const end = this.expect(";", `after the declaration of '${n.text}'`).span;
      return { kind: "decl", typeName: t.text, typeSpan: t.span, name: n.text, nameSpan: n.span, init, span: spanFrom(t.span, end) };
    }
    const expr = this.parseExpr();
    if (this.accept("=")) {
      const value = this.parseExpr();
      const end = this.expect(";", "after the assignment").span;
      return { kind: "assign", target: expr, value, span: spanFrom(expr.span, end) };
    }
    // A cell may end in a bare expression without ';'.
    const end = topLevel && this.tok.kind === "eof" ? expr.span : this.expect(";", "after the statement").span;
    if (expr.kind === "call") return { kind: "callstmt", call: expr, span: spanFrom(expr.span, end) };
    return { kind: "exprstmt", expr, span: spanFrom(expr.span, end) };
  }

  private parseBatch(): A.BatchStmt {
    const start = this.next().span;
    this.expect("(", "after 'batch'");
    const v = this.ident("(the loop variable)");
    this.expect("=", "after the loop variable");
    const from = this.parseExpr();
    this.expect("..", "between the loop bounds, as in batch(i = 0..N step 1)");
    const to = this.parseExpr();
    let step: A.Expr | undefined;
    if (this.accept("step")) step = this.parseExpr();
    this.expect(")", "to close batch(...)");
    this.expect("{", "to open the loop body");
    if (++this.depth > MAX_NESTING) this.fail(nestingMessage("batch loops"), start);
    let body: A.Stmt[];
    try {
      body = this.parseBlockBody();
    } finally {
      this.depth--;
    }
    const end = this.next().span;
    return { kind: "batch", variable: v.text, varSpan: v.span, start: from, end: to, step, body, span: spanFrom(start, end) };
  }

  // Expressions: additive > multiplicative > unary > postfix > primary.
  parseExpr(): A.Expr {
    if (++this.depth > MAX_NESTING) this.fail(nestingMessage("expression"));
    try {
      let left = this.parseTerm();
      while (this.is("+") || this.is("-")) {
        const op = this.next().text as "+" | "-";
        const right = this.parseTerm();
        left = { kind: "binary", op, left, right, span: spanFrom(left.span, right.span) };
      }
      return left;
    } finally {
      this.depth--;
    }
  }

  private parseTerm(): A.Expr {
    let left = this.parseUnary();
    while (this.is("*") || this.is("/") || this.is("%")) {
      const op = this.next().text as "*" | "/" | "%";
      const right = this.parseUnary();
      left = { kind: "binary", op, left, right, span: spanFrom(left.span, right.span) };
    }
    return left;
  }

  private parseUnary(): A.Expr {
    if (this.is("-") || this.is("+")) {
      const t = this.next();
      if (++this.depth > MAX_NESTING) this.fail(nestingMessage("expression"));
      try {
        const operand = this.parseUnary();
        return { kind: "unary", op: t.text as "-" | "+", operand, span: spanFrom(t.span, operand.span) };
      } finally {
        this.depth--;
      }
    }
    return this.parsePostfix();
  }

  private parsePostfix(): A.Expr {
    let e = this.parsePrimary();
    while (this.is("[")) {
      this.next();
      const items: A.IndexItem[] = [];
      do items.push(this.parseIndexItem()); while (this.accept(","));
      const end = this.expect("]", "to close the index").span;
      e = { kind: "index", target: e, items, span: spanFrom(e.span, end) };
    }
    return e;
  }

  private parseIndexItem(): A.IndexItem {
    if (this.is(":")) {
      const t = this.next();
      return { kind: "all", span: t.span };
    }
    const start = this.parseExpr();
    if (this.accept("+:")) {
      const length = this.parseExpr();
      return { kind: "window", start, length, span: spanFrom(start.span, length.span) };
    }
    return { kind: "at", index: start, span: start.span };
  }

  private parsePrimary(): A.Expr {
    const t = this.tok;
    if (t.kind === "number") {
      this.next();
      return { kind: "num", value: t.value!, isInt: t.isInt!, span: t.span };
    }
    if (t.kind === "ident") {
      this.next();
      if (this.is("(")) {
        this.next();
        const args: A.Expr[] = [];
        if (!this.is(")")) {
          do args.push(this.parseExpr()); while (this.accept(","));
        }
        const end = this.expect(")", `to close the call to '${t.text}'`).span;
        return { kind: "call", callee: t.text, calleeSpan: t.span, args, span: spanFrom(t.span, end) };
      }
      return { kind: "name", name: t.text, span: t.span };
    }
    if (this.is("(")) {
      this.next();
      const e = this.parseExpr();
      this.expect(")", "to close the parenthesis");
      return e;
    }
    return this.fail(`expected an expression, found ${this.describe(t)}`);
  }
}
