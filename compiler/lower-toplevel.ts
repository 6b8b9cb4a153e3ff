// Top-level statements as kernels, for back ends that only run kernels (the compiled one).
//
// A program's top-level statements are cut after each `show` into segments; each segment becomes
// a kernel whose parameters are the session tensors it touches, plus, for a segment that ends in a
// show, one output tensor that receives the shown value. Running the segments in order, and
// showing each output after its segment, reproduces the interpreter's order of prints and shows.
// Session tensors declared in a segment are allocated (zeroed) by the host before it runs.

import * as IR from "./ir.js";
import { TensorType } from "./types.js";

export interface TopLevelSegment {
  kernel: IR.Kernel;
  /** The session tensor bound to each parameter, in order; the show output (if any) comes last. */
  sessionArgs: IR.TensorVar[];
  /** Session tensors this segment declares: the host gives each a fresh zeroed tensor first. */
  declares: IR.TensorVar[];
  /** The segment ends by showing this expression; its value is the last parameter. */
  show?: { expr: IR.Expr; type: TensorType };
}

export function lowerTopLevel(program: IR.Program, name = "top_level"): TopLevelSegment[] {
  const segments: TopLevelSegment[] = [];
  let current: IR.Stmt[] = [];
  const flush = (show?: IR.Stmt & { kind: "show" }) => {
    if (!current.length && !show) return;
    segments.push(segment(current, show, program.topLevelLoopSlots, `${name}_${segments.length}`));
    current = [];
  };
  for (const s of program.topLevel) {
    if (s.kind === "show") flush(s);
    else current.push(s);
  }
  flush();
  return segments;
}

function segment(stmts: IR.Stmt[], show: (IR.Stmt & { kind: "show" }) | undefined, loopSlots: number, name: string): TopLevelSegment {
  const params = new Map<IR.TensorVar, IR.TensorVar>(); // session var -> its parameter
  const declares: IR.TensorVar[] = [];
  const callees: IR.Kernel[] = [];
  const param = (v: IR.TensorVar): IR.TensorVar => {
    if (v.role !== "session") return v;
    let p = params.get(v);
    if (!p) { p = { slot: params.size, name: v.name, type: v.type, role: "param", span: v.span }; params.set(v, p); }
    return p;
  };
  const view = (v: IR.View): IR.View => ({ ...v, base: param(v.base), steps: v.steps.map((st) => st.map(sel)) });
  const sel = (s: IR.IndexSel): IR.IndexSel =>
    s.kind === "at" ? { kind: "at", index: expr(s.index) } : s.kind === "window" ? { ...s, start: expr(s.start) } : s;
  const expr = (e: IR.Expr): IR.Expr => {
    switch (e.kind) {
      case "view": return { ...e, view: view(e.view) };
      case "neg": return { ...e, operand: expr(e.operand) };
      case "binary": return { ...e, left: expr(e.left), right: expr(e.right) };
      case "call": return { ...e, args: e.args.map(expr) };
      case "const": case "loopvar": return e;
    }
  };
  const stmt = (s: IR.Stmt): IR.Stmt | undefined => {
    switch (s.kind) {
      case "assign": return { ...s, dst: view(s.dst), src: expr(s.src) };
      case "zero":
        // a declaration: the host gives the tensor fresh zeroed storage before the segment runs
        if (!declares.includes(s.target)) declares.push(s.target);
        param(s.target);
        return undefined;
      case "mmul": return { ...s, acc: view(s.acc), a: view(s.a), b: view(s.b), c: s.c && view(s.c) };
      case "lookup": return { ...s, dst: view(s.dst), table: view(s.table), idx: view(s.idx) };
      case "causal_mask": return { ...s, target: view(s.target), offset: expr(s.offset) };
      case "print": return { ...s, src: view(s.src) };
      case "loop": return { ...s, start: expr(s.start), end: expr(s.end), step: expr(s.step), body: block(s.body) };
      case "call":
        if (!callees.includes(s.kernel)) callees.push(s.kernel);
        return { ...s, args: s.args.map(view) };
      case "show":
        throw new Error("internal: a shown value inside a loop (the checker refuses it)");
    }
  };
  const block = (ss: IR.Stmt[]): IR.Stmt[] => ss.map(stmt).filter((s): s is IR.Stmt => s !== undefined);
  const body = block(stmts);
  let showInfo: TopLevelSegment["show"];
  const sessionArgs = [...params.keys()];
  const paramList = [...params.values()];
  if (show) {
    const e = show.expr;
    // A shown view keeps its own precision (as the interpreter shows the view itself); any other
    // expression is shown in its compute precision.
    const type: TensorType = e.kind === "view"
      ? { name: "", precision: e.view.precision, shape: [...e.shape], space: "Global", layout: { kind: "RowMajor" } }
      : { name: "", precision: e.compute === "f32" ? "f32" : "int32", shape: [...e.shape], space: "Global", layout: { kind: "RowMajor" } };
    const out: IR.TensorVar = { slot: paramList.length, name: "shown", type, role: "param", span: show.span };
    paramList.push(out);
    const dst: IR.View = { base: out, steps: [], shape: [...e.shape], precision: type.precision, space: "Global", isStatic: true, span: show.span };
    body.push({ kind: "assign", dst, src: expr(e), squeeze: false, span: show.span });
    showInfo = { expr: e, type };
  }
  const kernel: IR.Kernel = { name, params: paramList, locals: [], body, span: stmts[0]?.span ?? show!.span, callees, loopSlots };
  return { kernel, sessionArgs, declares, show: showInfo };
}
