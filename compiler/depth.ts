// One nesting limit for every stage. The checker, the interpreter, the emitter and the analyses
// walk programs recursively; rather than give each stage (and g++) its own breaking point, the
// front end refuses, with a located diagnostic, any program whose nesting exceeds MAX_NESTING:
// expression tree depth + batch-loop nesting + kernel-call nesting, added along any path. Every
// stage handles this depth with room to spare (measured: the interpreter and the checker reach
// about 3000 levels on the main thread's stack, g++ builds 1000 nested loops or calls), so both
// back ends accept exactly the same programs. The measuring walks here are iterative.

import * as A from "./ast.js";
import { Span } from "./source.js";

export const MAX_NESTING = 1000;

export const nestingMessage = (what: string): string =>
  `${what} nested deeper than ${MAX_NESTING} levels (the limit on expressions, batch loops and kernel calls nested inside each other)`;

/** Children of an expression (index items included). */
function children(e: A.Expr): A.Expr[] {
  switch (e.kind) {
    case "num": case "name": return [];
    case "unary": return [e.operand];
    case "binary": return [e.left, e.right];
    case "call": return e.args;
    case "index": {
      const out: A.Expr[] = [e.target];
      for (const it of e.items) {
        if (it.kind === "at") out.push(it.index);
        else if (it.kind === "window") out.push(it.start, it.length);
      }
      return out;
    }
  }
}

/**
 * The depth of an expression tree (a leaf is 1), without recursion; stops early once `base +
 * depth` passes the limit and returns the first node found beyond it (where to point the error).
 */
export function exprDepth(root: A.Expr, base = 0): { depth: number; beyond?: A.Expr } {
  let max = 0;
  const stack: [A.Expr, number][] = [[root, 1]];
  while (stack.length) {
    const [e, d] = stack.pop()!;
    if (d > max) max = d;
    if (base + d > MAX_NESTING) return { depth: d, beyond: e };
    const cs = children(e);
    for (let i = cs.length - 1; i >= 0; i--) stack.push([cs[i], d + 1]); // leftmost first: errors point at the start
  }
  return { depth: max };
}

function stmtExprs(s: A.Stmt): A.Expr[] {
  switch (s.kind) {
    case "decl": return s.init ? [s.init] : [];
    case "assign": return [s.target, s.value];
    case "callstmt": return [s.call];
    case "exprstmt": return [s.expr];
    case "const": return [s.value];
    case "batch": return s.step ? [s.start, s.end, s.step] : [s.start, s.end];
  }
}

/**
 * The nesting of one parsed item (batch loops + expressions), iteratively. Returns where it first
 * passes MAX_NESTING, or undefined. Kernel calls are added by the checker, which knows the callees.
 */
export function tooDeep(item: A.Item): { span: Span; what: string } | undefined {
  const exprs: [A.Expr, number][] = [];
  if (item.kind === "type") {
    for (const d of item.type.dims) exprs.push([d, 0]);
    if (item.type.layout?.tile) for (const d of item.type.layout.tile) exprs.push([d, 0]);
  }
  const stmts: [A.Stmt, number][] = [];
  if (item.kind === "kernel") for (const s of item.body) stmts.push([s, 0]);
  else if (item.kind !== "type" && item.kind !== "target") stmts.push([item, 0]);
  while (stmts.length) {
    const [s, level] = stmts.pop()!;
    if (level > MAX_NESTING) return { span: s.span, what: "batch loops" };
    for (const e of stmtExprs(s)) exprs.push([e, level]);
    if (s.kind === "batch") for (const b of s.body) stmts.push([b, level + 1]);
  }
  for (const [e, level] of exprs) {
    const r = exprDepth(e, level);
    if (r.beyond) return { span: r.beyond.span, what: level ? "batch loops and expressions" : "expression" };
  }
  return undefined;
}
