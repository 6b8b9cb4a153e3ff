// Checker: resolves names, folds consts, checks shapes, precisions and memory spaces, and
// lowers the AST into the typed IR (ir.ts). Intrinsics with an elementwise meaning are
// lowered into assignments of pure expressions, so each has a single definition downstream.

import * as A from "./ast.js";
import { DiagnosticBag } from "./diagnostics.js";
import { ACT_CODES, ACT_KINDS, BUILTIN_CONSTS, intrinsic, INTRINSIC_NAMES, PURE_TYPING } from "./intrinsics.js";
import * as IR from "./ir.js";
import { parseSource } from "./parser.js";
import { exprDepth, MAX_NESTING, nestingMessage } from "./depth.js";
import { SourceFile, Span } from "./source.js";
import {
  broadcastShapes, ComputeKind, computeKindOf, isFloat, Layout, MAX_RANK, Precision, PRECISIONS, sameShape,
  shapeToString, Space, SPACES, TensorType, typeToString,
} from "./types.js";

/** What earlier programs of a session defined; a new program sees these and may redefine them. */
export interface Environment {
  consts: Map<string, number>;
  types: Map<string, TensorType>;
  kernels: Map<string, IR.Kernel>;
  tensors: Map<string, IR.TensorVar>;
}

export const emptyEnvironment = (): Environment => ({ consts: new Map(), types: new Map(), kernels: new Map(), tensors: new Map() });

export interface CheckResult {
  program: IR.Program;
  diagnostics: DiagnosticBag;
}

/** Parse and check source files as one program (e.g. a model's model.ta, then the model library). */
export function checkSources(files: SourceFile[], env: Environment = emptyEnvironment()): CheckResult {
  const diags = new DiagnosticBag();
  const asts = files.map((f) => parseSource(f, diags));
  const program = new Checker(diags, env).check(asts.flatMap((a) => a.items));
  return { program, diagnostics: diags };
}

export function checkSource(name: string, text: string, env?: Environment): CheckResult {
  return checkSources([new SourceFile(name, text)], env);
}

class CheckAbort extends Error {}

interface ConstValue { value: number; isInt: boolean }

/** A name visible in a kernel body or at top level. */
type Binding =
  | { kind: "tensor"; v: IR.TensorVar }
  | { kind: "loop"; v: IR.LoopVar }
  | { kind: "const"; c: ConstValue };

interface KernelSig { kernel: IR.Kernel; ast?: A.KernelDecl }

class Scope {
  readonly names = new Map<string, Binding>();
  constructor(readonly parent?: Scope) {}
  lookup(name: string): Binding | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name);
  }
}

/** Per-kernel state while its body is checked. */
interface Frame {
  kernel: IR.Kernel | undefined; // undefined at top level
  tensorSlots: number;
  loopSlots: number;
  maxLoopSlots: number;
  locals: IR.TensorVar[];
  /** Batch loops around the statement being checked; the deepest statement (loops + expression). */
  level: number;
  maxDepth: number;
  /** Kernel calls, with the loops around them: a callee's nesting adds to the caller's. */
  calls: { level: number; kernel: IR.Kernel; span: Span }[];
}

/** Each checked kernel's nesting (loops + expressions + calls), for the calls of later programs. */
const kernelNesting = new WeakMap<IR.Kernel, number>();

function stmtExprDepth(s: A.Stmt): number {
  const exprs = s.kind === "decl" ? (s.init ? [s.init] : []) : s.kind === "assign" ? [s.target, s.value] : s.kind === "callstmt" ? [s.call]
    : s.kind === "exprstmt" ? [s.expr] : s.kind === "const" ? [s.value] : s.step ? [s.start, s.end, s.step] : [s.start, s.end];
  return Math.max(0, ...exprs.map((e) => exprDepth(e).depth));
}

const INT32_MIN = -2147483648, INT32_MAX = 2147483647;

class Checker {
  private readonly consts = new Map<string, ConstValue>();
  private readonly types = new Map<string, TensorType>();
  private readonly kernels = new Map<string, KernelSig>();
  private readonly sessionTensors = new Map<string, IR.TensorVar>();
  private readonly newSessionVars: IR.TensorVar[] = [];
  private target: IR.Target | undefined;
  private readonly frames = new Map<IR.Kernel, Frame>();

  constructor(private readonly diags: DiagnosticBag, env: Environment) {
    for (const [k, v] of env.consts) this.consts.set(k, { value: v, isInt: Number.isInteger(v) });
    for (const [k, v] of env.types) this.types.set(k, v);
    for (const [k, v] of env.kernels) this.kernels.set(k, { kernel: v });
    for (const [k, v] of env.tensors) this.sessionTensors.set(k, v);
  }

  private error(span: Span | undefined, message: string): void {
    this.diags.error(span, message);
  }
  private fail(span: Span | undefined, message: string): never {
    this.error(span, message);
    throw new CheckAbort();
  }

  check(items: A.Item[]): IR.Program {
    const definedHere = new Map<string, Span>(); // program-level names defined in this program
    const define = (name: string, span: Span, what: string): boolean => {
      const prev = definedHere.get(name);
      if (prev) {
        const p = prev.file.position(prev.start);
        this.error(span, `duplicate definition of ${what} '${name}' (first defined at ${prev.file.name}:${p.line}:${p.col})`);
        return false;
      }
      definedHere.set(name, span);
      return true;
    };

    // Pass 1: consts and types in order, then kernel signatures, so that kernels may use types
    // and call kernels defined after them.
    const kernelAsts: [A.KernelDecl, IR.Kernel][] = [];
    const declsFirst = [...items.filter((i) => i.kind !== "kernel"), ...items.filter((i) => i.kind === "kernel")];
    for (const item of declsFirst) {
      try {
        if (item.kind === "const") {
          if (define(item.name, item.nameSpan, "const")) this.consts.set(item.name, this.evalConst(item.value, new Scope()));
        } else if (item.kind === "type") {
          if (define(item.name, item.nameSpan, "type")) this.types.set(item.name, this.resolveType(item.name, item.type));
        } else if (item.kind === "target") {
          if (this.target) this.error(item.span, "duplicate target block");
          const settings: Record<string, string | number> = {};
          for (const e of item.entries) settings[e.key] = e.value;
          this.target = { name: item.name, settings, span: item.span };
        } else if (item.kind === "kernel") {
          if (!define(item.name, item.nameSpan, "kernel")) continue;
          if (INTRINSIC_NAMES.has(item.name)) this.error(item.nameSpan, `'${item.name}' is an intrinsic and cannot name a kernel`);
          const kernel: IR.Kernel = { name: item.name, params: [], locals: [], body: [], span: item.span, callees: [], loopSlots: 0 };
          const seen = new Set<string>();
          item.params.forEach((p, i) => {
            if (seen.has(p.name)) this.error(p.nameSpan, `duplicate parameter '${p.name}' in kernel '${item.name}'`);
            seen.add(p.name);
            const type = this.lookupType(p.typeName, p.typeSpan);
            kernel.params.push({ slot: i, name: p.name, type: type ?? placeholderType, role: "param", span: p.nameSpan });
          });
          this.kernels.set(item.name, { kernel, ast: item });
          kernelAsts.push([item, kernel]);
        }
      } catch (e) {
        if (!(e instanceof CheckAbort)) throw e;
      }
    }

    // Pass 2: kernel bodies.
    for (const [ast, kernel] of kernelAsts) this.checkKernelBody(ast, kernel);
    const ordered = this.orderKernels(kernelAsts.map(([, k]) => k));
    for (const k of ordered) kernelNesting.set(k, this.callNesting(this.frames.get(k)));

    // Pass 3: top-level statements, in order, as the session's program.
    const frame: Frame = { kernel: undefined, tensorSlots: 0, loopSlots: 0, maxLoopSlots: 0, locals: [], level: 0, maxDepth: 0, calls: [] };
    const scope = new Scope();
    const topLevel: IR.Stmt[] = [];
    for (const item of items) {
      if (item.kind === "const" || item.kind === "type" || item.kind === "target" || item.kind === "kernel") continue;
      this.checkStmt(item, scope, frame, topLevel);
    }
    this.callNesting(frame);

    const consts = new Map<string, number>();
    for (const [k, v] of this.consts) consts.set(k, v.value);
    const kernelByName = new Map<string, IR.Kernel>();
    for (const [k, v] of this.kernels) kernelByName.set(k, v.kernel);
    return {
      consts,
      types: new Map(this.types),
      kernels: ordered,
      kernelByName,
      sessionVars: this.newSessionVars,
      topLevel,
      topLevelLoopSlots: frame.maxLoopSlots,
      target: this.target,
    };
  }

  /**
   * A frame's nesting with its calls' (callees are done first: topological order); reports the
   * first call that takes it past MAX_NESTING, unless the callee itself was already reported.
   */
  private callNesting(frame: Frame | undefined): number {
    if (!frame) return 0;
    let depth = frame.maxDepth;
    for (const c of frame.calls) {
      const inner = kernelNesting.get(c.kernel) ?? 0;
      const d = c.level + 1 + inner;
      if (d > MAX_NESTING && inner <= MAX_NESTING && depth <= MAX_NESTING) this.error(c.span, nestingMessage(`kernel calls (with the loops and expressions of '${c.kernel.name}')`));
      depth = Math.max(depth, d);
    }
    return depth;
  }

  /** Topological order (callees first); reports recursion. */
  private orderKernels(kernels: IR.Kernel[]): IR.Kernel[] {
    const state = new Map<IR.Kernel, "visiting" | "done">();
    const out: IR.Kernel[] = [];
    const visit = (k: IR.Kernel, path: IR.Kernel[]): void => {
      const s = state.get(k);
      if (s === "done") return;
      if (s === "visiting") {
        const cycle = [...path.slice(path.indexOf(k)), k].map((x) => x.name).join(" -> ");
        this.error(k.span, `recursion is not allowed: ${cycle}`);
        return;
      }
      state.set(k, "visiting");
      for (const c of k.callees) visit(c, [...path, k]);
      state.set(k, "done");
      if (kernels.includes(k)) out.push(k);
    };
    for (const k of kernels) visit(k, []);
    return out;
  }

  // ---- consts and types -------------------------------------------------------------------

  private evalConst(e: A.Expr, scope: Scope): ConstValue {
    switch (e.kind) {
      case "num":
        return { value: e.value, isInt: e.isInt };
      case "name": {
        const b = scope.lookup(e.name);
        if (b?.kind === "const") return b.c;
        if (b) this.fail(e.span, `'${e.name}' is not a constant: a const expression may only use numbers and consts`);
        const c = this.consts.get(e.name);
        if (c) return c;
        if (e.name in BUILTIN_CONSTS) return { value: BUILTIN_CONSTS[e.name], isInt: false };
        return this.fail(e.span, `undefined const '${e.name}'${this.suggest(e.name, [...this.consts.keys()])}`);
      }
      case "unary": {
        const v = this.evalConst(e.operand, scope);
        return { value: e.op === "-" ? -v.value : v.value, isInt: v.isInt };
      }
      case "binary": {
        const l = this.evalConst(e.left, scope), r = this.evalConst(e.right, scope);
        const isInt = l.isInt && r.isInt;
        let value: number;
        switch (e.op) {
          case "+": value = l.value + r.value; break;
          case "-": value = l.value - r.value; break;
          case "*": value = l.value * r.value; break;
          case "/":
            if (isInt && r.value === 0) this.fail(e.span, "division by zero in a const expression");
            value = isInt ? Math.trunc(l.value / r.value) : l.value / r.value;
            break;
          case "%":
            if (isInt && r.value === 0) this.fail(e.span, "division by zero in a const expression");
            value = l.value % r.value;
            break;
        }
        if (isInt && !Number.isSafeInteger(value)) this.fail(e.span, `const expression overflows: ${value}`);
        return { value, isInt };
      }
      case "call": {
        // MINIMUM/MAXIMUM of two consts keep the int kind when both are ints (as the elementwise ones)
        if ((e.callee === "MINIMUM" || e.callee === "MAXIMUM") && e.args.length === 2) {
          const a = this.evalConst(e.args[0], scope), b = this.evalConst(e.args[1], scope);
          return { value: (e.callee === "MINIMUM" ? Math.min : Math.max)(a.value, b.value), isInt: a.isInt && b.isInt };
        }
        const fns: Record<string, (x: number) => number> = { SQRT: Math.sqrt, EXP: Math.exp, LOG: Math.log, ABS: Math.abs, TANH: Math.tanh };
        const f = fns[e.callee];
        if (!f || e.args.length !== 1) return this.fail(e.span, `'${e.callee}(...)' cannot be used in a const expression (allowed: SQRT, EXP, LOG, ABS, TANH of one argument, MINIMUM and MAXIMUM of two)`);
        const v = this.evalConst(e.args[0], scope);
        return { value: f(v.value), isInt: false };
      }
      case "index":
        return this.fail(e.span, "indexing cannot be used in a const expression");
    }
  }

  private constInt(e: A.Expr, scope: Scope, what: string): number {
    const c = this.evalConst(e, scope);
    if (!c.isInt || !Number.isInteger(c.value)) this.fail(e.span, `${what} must be an integer, got ${c.value}`);
    return c.value;
  }

  private resolveType(name: string, t: A.TensorTypeSyntax, scope = new Scope()): TensorType {
    const precision = t.precision.name as Precision;
    if (!PRECISIONS.includes(precision)) this.fail(t.precision.span, `unknown precision '${t.precision.name}' (expected one of ${PRECISIONS.join(", ")})`);
    if (t.dims.length > MAX_RANK) this.fail(t.span, `tensors have rank 0 to ${MAX_RANK}; this one has ${t.dims.length} dimensions`);
    const shape = t.dims.map((d) => {
      const v = this.constInt(d, scope, "a dimension");
      if (v <= 0) this.fail(d.span, `dimensions must be positive, got ${v}`);
      return v;
    });
    const total = shape.reduce((a, b) => a * b, 1);
    if (total > 2 ** 31 - 1) this.fail(t.span, `tensor of shape ${shapeToString(shape)} has ${total} elements, more than 2^31 - 1`);
    let space: Space = "Global";
    if (t.space) {
      if (!SPACES.includes(t.space.name as Space)) this.fail(t.space.span, `unknown memory space '${t.space.name}' (expected one of ${SPACES.join(", ")})`);
      space = t.space.name as Space;
    }
    let layout: Layout = { kind: "RowMajor" };
    if (t.layout) {
      if (t.layout.name === "RowMajor" || t.layout.name === "ColMajor") layout = { kind: t.layout.name };
      else if (t.layout.name === "Tiled" && t.layout.tile) {
        const rows = this.constInt(t.layout.tile[0], scope, "a tile size");
        const cols = this.constInt(t.layout.tile[1], scope, "a tile size");
        if (rows <= 0 || cols <= 0) this.fail(t.layout.span, "tile sizes must be positive");
        if (shape.length < 2) this.fail(t.layout.span, "a Tiled layout needs a tensor of rank 2 or more");
        layout = { kind: "Tiled", rows, cols };
      } else this.fail(t.layout.span, `unknown layout '${t.layout.name}' (expected RowMajor, ColMajor or Tiled(MxN))`);
    }
    return { name, precision, shape, space, layout };
  }

  private lookupType(name: string, span: Span): TensorType | undefined {
    const t = this.types.get(name);
    if (!t) this.error(span, `undefined type '${name}'${this.suggest(name, [...this.types.keys()])}`);
    return t;
  }

  private suggest(name: string, candidates: string[]): string {
    let best = "", bestD = Infinity;
    for (const c of candidates) {
      const d = editDistance(name.toLowerCase(), c.toLowerCase());
      if (d < bestD) { bestD = d; best = c; }
    }
    return bestD <= Math.max(1, Math.floor(name.length / 3)) ? ` (did you mean '${best}'?)` : "";
  }

  // ---- kernels and statements -------------------------------------------------------------

  private checkKernelBody(ast: A.KernelDecl, kernel: IR.Kernel): void {
    const scope = new Scope();
    for (const p of kernel.params) scope.names.set(p.name, { kind: "tensor", v: p });
    const frame: Frame = { kernel, tensorSlots: kernel.params.length, loopSlots: 0, maxLoopSlots: 0, locals: kernel.locals, level: 0, maxDepth: 0, calls: [] };
    this.frames.set(kernel, frame);
    for (const s of ast.body) this.checkStmt(s, scope, frame, kernel.body);
    kernel.loopSlots = frame.maxLoopSlots;
  }

  private checkStmt(s: A.Stmt, scope: Scope, frame: Frame, out: IR.Stmt[]): void {
    frame.maxDepth = Math.max(frame.maxDepth, frame.level + stmtExprDepth(s));
    try {
      this.lowerStmt(s, scope, frame, out);
    } catch (e) {
      if (!(e instanceof CheckAbort)) throw e;
    }
  }

  /** A name in this scope. (A session tensor from an earlier cell is not in scope, so a cell may redeclare it.) */
  private declare(scope: Scope, name: string, span: Span, b: Binding): void {
    if (scope.names.has(name)) this.fail(span, `duplicate definition of '${name}' in this scope`);
    scope.names.set(name, b);
  }

  private lowerStmt(s: A.Stmt, scope: Scope, frame: Frame, out: IR.Stmt[]): void {
    switch (s.kind) {
      case "const": {
        const c = this.evalConst(s.value, scope);
        this.declare(scope, s.name, s.nameSpan, { kind: "const", c });
        if (frame.kernel === undefined) this.consts.set(s.name, c); // a top-level const persists
        return;
      }
      case "decl": {
        const type = this.lookupType(s.typeName, s.typeSpan);
        if (!type) throw new CheckAbort();
        if (INTRINSIC_NAMES.has(s.name)) this.fail(s.nameSpan, `'${s.name}' is an intrinsic and cannot name a tensor`);
        if (this.kernels.has(s.name) && frame.kernel) this.fail(s.nameSpan, `'${s.name}' is already a kernel`);
        let v: IR.TensorVar;
        if (frame.kernel) {
          v = { slot: frame.tensorSlots++, name: s.name, type, role: "local", span: s.nameSpan };
          frame.locals.push(v);
        } else {
          v = { slot: -1, name: s.name, type, role: "session", span: s.nameSpan };
          this.sessionTensors.set(s.name, v);
          this.newSessionVars.push(v);
        }
        // Check the initializer before the name is visible: `T x = x + 1;` refers to an older x.
        const init = s.init ? this.lowerExpr(s.init, scope, frame) : undefined;
        this.declare(scope, s.name, s.nameSpan, { kind: "tensor", v });
        out.push({ kind: "zero", target: v, span: s.span });
        if (init && s.init) {
          const dst = this.wholeView(v, s.nameSpan);
          out.push(this.makeAssign(dst, init, s.span));
        }
        return;
      }
      case "assign": {
        const dst = this.lowerView(s.target, scope, frame, "the left side of '='");
        const src = this.lowerExpr(s.value, scope, frame);
        out.push(this.makeAssign(dst, src, s.span));
        return;
      }
      case "batch": {
        const start = this.lowerIndexExpr(s.start, scope, frame, "the loop start");
        const end = this.lowerIndexExpr(s.end, scope, frame, "the loop end");
        const step = s.step ? this.lowerIndexExpr(s.step, scope, frame, "the loop step") : constExpr(1, "i32", s.span);
        if (step.kind === "const" && step.value <= 0) this.error(s.step!.span, `the loop step must be positive, got ${step.value}`);
        const inner = new Scope(scope);
        const v: IR.LoopVar = { slot: frame.loopSlots++, name: s.variable, span: s.varSpan };
        frame.maxLoopSlots = Math.max(frame.maxLoopSlots, frame.loopSlots);
        inner.names.set(s.variable, { kind: "loop", v });
        const body: IR.Stmt[] = [];
        frame.level++;
        for (const b of s.body) this.checkStmt(b, inner, frame, body);
        frame.level--;
        frame.loopSlots--;
        out.push({ kind: "loop", v, start, end, step, body, span: s.span });
        return;
      }
      case "callstmt":
        // `MAX(x)` or `EXP(x - m)` on its own line is a value (shown at top level), not a statement.
        if (isValueOnlyCall(s.call)) return this.lowerStmt({ kind: "exprstmt", expr: s.call, span: s.span }, scope, frame, out);
        this.lowerCallStmt(s.call, scope, frame, out, s.span);
        return;
      case "exprstmt": {
        if (frame.kernel) this.fail(s.span, "an expression on its own does nothing inside a kernel; assign it, as in `x = ...;`");
        // One value per shown expression: inside a loop it would be shown once per iteration, and the
        // compiled back end shows values between kernels, so both back ends refuse it alike.
        if (frame.loopSlots > 0) this.fail(s.span, "a value is shown only outside loops; assign it to a tensor inside the loop and show that after it");
        const expr = this.lowerExpr(s.expr, scope, frame);
        out.push({ kind: "show", expr, span: s.span });
        return;
      }
    }
  }

  /** dst = src: src must broadcast to dst's shape, or be dst's shape plus a trailing axis of 1 (a reduction). */
  private makeAssign(dst: IR.View, src: IR.Expr, span: Span): IR.Stmt {
    const b = broadcastShapes(src.shape, dst.shape);
    if (b && sameShape(b, dst.shape)) return { kind: "assign", dst, src, squeeze: false, span };
    if (src.shape.length === dst.shape.length + 1 && src.shape[src.shape.length - 1] === 1 && sameShape(src.shape.slice(0, -1), dst.shape)) {
      return { kind: "assign", dst, src, squeeze: true, span };
    }
    return this.fail(src.span, `cannot assign a value of shape ${shapeToString(src.shape)} to '${dst.base.name}' of shape ${shapeToString(dst.shape)}`);
  }

  private wholeView(v: IR.TensorVar, span: Span): IR.View {
    return { base: v, steps: [], shape: v.type.shape, precision: v.type.precision, space: v.type.space, isStatic: true, span };
  }

  private lowerCallStmt(call: A.CallExpr, scope: Scope, frame: Frame, out: IR.Stmt[], span: Span): void {
    const name = call.callee;
    const args = call.args;
    // Every form's argument count comes from the catalogue, checked once before lowering.
    const row = intrinsic(name);
    if (row?.statement && !row.statement.includes(args.length)) {
      const ns = row.statement;
      this.fail(call.span, `${name} takes ${ns.join(" or ")} argument${ns.length === 1 && ns[0] === 1 ? "" : "s"}, got ${args.length}`);
    }
    const view = (i: number, role: string) => this.lowerView(args[i], scope, frame, `${role} of ${name}`);
    const pure = (fn: IR.PureFn, src: IR.Expr, extra?: Partial<IR.Expr>): IR.Expr => this.makeCall(fn, [src], call.span, extra);

    if (!INTRINSIC_NAMES.has(name)) {
      const sig = this.kernels.get(name);
      if (!sig) {
        const b = scope.lookup(name);
        if (b) this.fail(call.calleeSpan, `'${name}' is a ${b.kind === "tensor" ? "tensor" : b.kind === "loop" ? "loop variable" : "const"}, not a kernel`);
        this.fail(call.calleeSpan, `undefined kernel or intrinsic '${name}'${this.suggest(name, [...this.kernels.keys(), ...INTRINSIC_NAMES])}`);
      }
      const kernel = sig.kernel;
      if (frame.kernel === kernel) this.fail(call.calleeSpan, `recursion is not allowed: kernel '${name}' calls itself`);
      if (args.length !== kernel.params.length) {
        this.fail(call.span, `kernel '${name}' takes ${kernel.params.length} argument${kernel.params.length === 1 ? "" : "s"}, got ${args.length}`);
      }
      const views: IR.View[] = [];
      args.forEach((a, i) => {
        const p = kernel.params[i];
        try {
          const v = this.lowerView(a, scope, frame, `argument ${i + 1} of '${name}'`);
          if (v.precision !== p.type.precision || !sameShape(v.shape, p.type.shape) || v.space !== p.type.space) {
            this.fail(a.span, `argument ${i + 1} of '${name}' has type Tensor<${v.precision}, ${shapeToString(v.shape)}, ${v.space}>, but parameter '${p.name}' is ${typeToString(p.type)}`);
          }
          views.push(v);
        } catch (e) {
          if (!(e instanceof CheckAbort)) throw e;
        }
      });
      if (views.length !== args.length) throw new CheckAbort();
      if (frame.kernel && !frame.kernel.callees.includes(kernel)) frame.kernel.callees.push(kernel);
      frame.calls.push({ level: frame.level, kernel, span: call.calleeSpan });
      out.push({ kind: "call", kernel, args: views, span });
      return;
    }

    switch (name) {
      case "LOAD":
      case "STORE": {
        const dst = view(0, "the destination"), src = view(1, "the source");
        if (name === "LOAD" && dst.space !== "TileReg") this.fail(args[0].span, `LOAD copies into TileReg memory, but '${dst.base.name}' is in ${dst.space}`);
        if (name === "STORE" && src.space !== "TileReg") this.fail(args[1].span, `STORE copies out of TileReg memory, but '${src.base.name}' is in ${src.space}`);
        if (name === "STORE" && dst.space === "TileReg") this.fail(args[0].span, `STORE writes to memory outside the tile registers, but '${dst.base.name}' is TileReg (use LOAD or '=')`);
        if (!sameShape(dst.shape, src.shape)) this.fail(call.span, `${name} needs equal shapes: ${shapeToString(dst.shape)} and ${shapeToString(src.shape)}`);
        out.push({ kind: "assign", dst, src: this.viewExpr(src), squeeze: false, span });
        return;
      }
      case "MMUL":
      case "MADD": {
        // an operand written TRANSPOSE(x) is x read transposed in place (no copy); x must be 2-D
        const operand = (i: number, role: string): [IR.View, boolean] => {
          const arg = args[i];
          if (arg.kind !== "call" || arg.callee !== "TRANSPOSE") return [view(i, role), false];
          if (arg.args.length !== 1) this.fail(arg.span, `TRANSPOSE takes 1 argument, got ${arg.args.length}`);
          const v = this.lowerView(arg.args[0], scope, frame, `${role} of ${name}`);
          if (v.shape.length !== 2) this.fail(arg.span, `TRANSPOSE needs a 2-D operand, got shape ${shapeToString(v.shape)}`);
          return [v, true];
        };
        const acc = view(0, "the accumulator");
        const [a, transA] = operand(1, "the left operand"), [b, transB] = operand(2, "the right operand");
        for (const v of [acc, a, b]) {
          if (v.space !== "TileReg") this.error(v.span, `${name} operands must be TileReg (hardware affinity), but '${v.base.name}' is in ${v.space}`);
        }
        const shapes = IR.mmulShapes({ a, b, transA, transB });
        let shape: number[] | undefined;
        if (shapes.a.length === 2 && shapes.b.length === 2) {
          if (shapes.a[1] !== shapes.b[0]) this.fail(call.span, `${name}: A has ${shapes.a[1]} columns but B has ${shapes.b[0]} rows (${shapeToString(shapes.a)} · ${shapeToString(shapes.b)})`);
          shape = [shapes.a[0], shapes.b[1]];
        } else if (shapes.a.length === 2 && shapes.b.length === 1) {
          if (shapes.a[1] !== shapes.b[0]) this.fail(call.span, `${name}: A has ${shapes.a[1]} columns but the vector has ${shapes.b[0]} elements`);
          shape = [shapes.a[0]];
        } else if (shapes.a.length === 1 && shapes.b.length === 2) {
          if (shapes.a[0] !== shapes.b[0]) this.fail(call.span, `${name}: the vector has ${shapes.a[0]} elements but B has ${shapes.b[0]} rows`);
          shape = [shapes.b[1]];
        } else {
          this.fail(call.span, `${name} multiplies a matrix or vector by a matrix or vector (one of them 2-D); got ${shapeToString(shapes.a)} · ${shapeToString(shapes.b)}`);
        }
        if (!sameShape(acc.shape, shape)) this.fail(args[0].span, `${name}: the accumulator has shape ${shapeToString(acc.shape)}, but the product has shape ${shapeToString(shape)}`);
        const floats = isFloat(acc.precision);
        if (floats ? !(isFloat(a.precision) && isFloat(b.precision)) : !(acc.precision === "int32" && !isFloat(a.precision) && !isFloat(b.precision))) {
          this.fail(call.span, `${name}: operands of precision ${a.precision} and ${b.precision} cannot accumulate into ${acc.precision} (float operands need a float accumulator; int8/int32 operands an int32 accumulator)`);
        }
        let c: IR.View | undefined;
        if (name === "MADD") {
          c = view(3, "the addend");
          const bc = broadcastShapes(c.shape, acc.shape);
          if (!bc || !sameShape(bc, acc.shape)) this.fail(args[3].span, `MADD: C of shape ${shapeToString(c.shape)} does not broadcast to the accumulator's shape ${shapeToString(acc.shape)}`);
          if (isFloat(c.precision) !== floats) this.fail(args[3].span, `MADD: C is ${c.precision} but the accumulator is ${acc.precision}`);
        }
        out.push({ kind: "mmul", acc, a, b, c, ...(transA && { transA }), ...(transB && { transB }), span });
        return;
      }
      case "REDUCE": {
        if (args.length === 1) {
          out.push({ kind: "print", src: view(0, "the operand"), span });
          return;
        }
        const dst = view(0, "the destination"), src = view(1, "the source");
        out.push(this.makeAssign(dst, this.makeCall("SUMALL", [this.viewExpr(src)], call.span), span));
        return;
      }
      case "SUM":
      case "MAX":
      case "MEAN":
      case "TRANSPOSE": {
        const dst = view(0, "the destination");
        const src = this.lowerExpr(args[1], scope, frame);
        out.push(this.makeAssign(dst, pure(name, src), span));
        return;
      }
      case "SOFTMAX":
      case "EXP":
      case "LOG":
      case "SQRT":
      case "TANH":
      case "ABS": {
        const dst = view(0, args.length === 1 ? "the operand" : "the destination");
        const src = args.length === 1 ? this.viewExpr(dst) : this.lowerExpr(args[1], scope, frame);
        out.push(this.makeAssign(dst, pure(name, src), span));
        return;
      }
      case "ACT": {
        const dst = view(0, "the operand");
        out.push(this.makeAssign(dst, this.makeCall("ACT", [this.viewExpr(dst)], call.span, { act: this.actKind(args[1], scope) }), span));
        return;
      }
      case "LOOKUP": {
        const dst = view(0, "the destination"), table = view(1, "the table"), idx = view(2, "the index");
        if (table.shape.length !== 2) this.fail(args[1].span, `LOOKUP needs a 2-D table, got shape ${shapeToString(table.shape)}`);
        if (idx.precision !== "int32") this.fail(args[2].span, `LOOKUP needs an int32 index tensor, got ${idx.precision}`);
        const D = table.shape[1];
        const n = idx.shape.length === 0 ? 1 : idx.shape.length === 1 ? idx.shape[0] : -1;
        if (n < 0) this.fail(args[2].span, `LOOKUP's index has shape {}, {1} or {N}, got ${shapeToString(idx.shape)}`);
        const ok = (idx.shape.length === 0 || (idx.shape.length === 1 && n === 1)) && sameShape(dst.shape, [D])
          || (idx.shape.length === 1 && sameShape(dst.shape, [n, D]));
        if (!ok) this.fail(args[0].span, `LOOKUP: destination has shape ${shapeToString(dst.shape)}, but rows of the table have ${D} elements and the index selects ${n} row${n === 1 ? "" : "s"} (expected ${n === 1 && idx.shape.length !== 1 ? `{${D}}` : `{${n}, ${D}}`})`);
        if (isFloat(dst.precision) !== isFloat(table.precision)) this.fail(call.span, `LOOKUP: table is ${table.precision} but the destination is ${dst.precision}`);
        out.push({ kind: "lookup", dst, table, idx, span });
        return;
      }
      case "CAUSAL_MASK": {
        const target = view(0, "the operand");
        if (!isFloat(target.precision)) this.fail(args[0].span, `CAUSAL_MASK needs a float tensor (it writes -infinity), got ${target.precision}`);
        if (target.shape.length < 1) this.fail(args[0].span, "CAUSAL_MASK needs a tensor of rank 1 or more");
        const offset = this.lowerIndexExpr(args[1], scope, frame, "the mask offset");
        out.push({ kind: "causal_mask", target, offset, span });
        return;
      }
      case "SYNC":
        view(0, "the operand");
        return;
      case "MAXIMUM":
      case "MINIMUM":
        this.fail(call.span, `${name}(a, b) is an expression; assign it, as in \`x = ${name}(a, b);\``);
    }
    this.fail(call.span, `${name} cannot be used as a statement`);
  }

  private actKind(e: A.Expr, scope: Scope): IR.ActKind {
    if (e.kind === "name" && e.name in ACT_KINDS && !scope.lookup(e.name)) return ACT_KINDS[e.name];
    const c = this.evalConst(e, scope);
    const k = ACT_CODES[c.value];
    if (!k) this.fail(e.span, `unknown activation ${c.value}: use GELU (1), SILU (2), GELU_ERF (3) or RELU (4)`);
    return k;
  }

  // ---- expressions ------------------------------------------------------------------------

  private viewExpr(v: IR.View): IR.Expr {
    return { kind: "view", view: v, shape: v.shape, compute: computeKindOf(v.precision), span: v.span };
  }

  private makeCall(fn: IR.PureFn, args: IR.Expr[], span: Span, extra?: Partial<IR.Expr>): IR.Expr {
    const typed = PURE_TYPING[fn](args[0], args[1]);
    if ("error" in typed) return this.fail(span, typed.error);
    return { kind: "call", fn, args, shape: typed.shape, compute: typed.compute, span, ...(extra as object) } as IR.Expr;
  }

  private lowerIndexExpr(e: A.Expr, scope: Scope, frame: Frame, what: string): IR.Expr {
    const x = this.lowerExpr(e, scope, frame);
    if (x.shape.length !== 0) this.fail(e.span, `${what} must be a scalar, got a value of shape ${shapeToString(x.shape)}`);
    if (x.compute !== "i32") this.fail(e.span, `${what} must be an integer, got a float value`);
    return x;
  }

  lowerExpr(e: A.Expr, scope: Scope, frame: Frame): IR.Expr {
    switch (e.kind) {
      case "num":
        return constExpr(e.value, e.isInt ? "i32" : "f32", e.span);
      case "name": {
        const b = scope.lookup(e.name);
        if (b?.kind === "loop") return { kind: "loopvar", v: b.v, shape: [], compute: "i32", span: e.span };
        if (b?.kind === "const") return constExpr(b.c.value, b.c.isInt ? "i32" : "f32", e.span);
        if (b?.kind === "tensor" || (!b && frame.kernel === undefined && this.sessionTensors.has(e.name))) return this.viewExpr(this.lowerView(e, scope, frame, "an expression"));
        const c = this.consts.get(e.name);
        if (c) return constExpr(c.value, c.isInt ? "i32" : "f32", e.span);
        if (e.name in BUILTIN_CONSTS) return constExpr(BUILTIN_CONSTS[e.name], "f32", e.span);
        return this.fail(e.span, this.undefinedName(e.name, scope, frame));
      }
      case "index":
        return this.viewExpr(this.lowerView(e, scope, frame, "an expression"));
      case "unary": {
        const x = this.lowerExpr(e.operand, scope, frame);
        if (e.op === "+") return x;
        if (x.kind === "const") return constExpr(-x.value, x.compute, e.span);
        return { kind: "neg", operand: x, shape: x.shape, compute: x.compute, span: e.span };
      }
      case "binary": {
        const l = this.lowerExpr(e.left, scope, frame), r = this.lowerExpr(e.right, scope, frame);
        const shape = broadcastShapes(l.shape, r.shape);
        if (!shape) this.fail(e.span, `shapes ${shapeToString(l.shape)} and ${shapeToString(r.shape)} do not broadcast for '${e.op}'`);
        const compute: ComputeKind = l.compute === "i32" && r.compute === "i32" ? "i32" : "f32";
        if (compute === "i32" && (e.op === "/" || e.op === "%") && r.kind === "const" && r.value === 0) this.fail(e.right.span, "integer division by zero");
        if (l.kind === "const" && r.kind === "const") {
          const v = foldBinary(e.op, l.value, r.value, compute);
          if (v !== undefined) return constExpr(v, compute, e.span);
        }
        return { kind: "binary", op: e.op, left: l, right: r, shape, compute, span: e.span };
      }
      case "call": {
        const name = e.callee;
        if (this.kernels.has(name) && !INTRINSIC_NAMES.has(name)) this.fail(e.span, `kernel '${name}' has no value: call it as a statement, as in \`${name}(...);\``);
        const form = intrinsic(name)?.expression;
        if (form) {
          const fn = form.fn as IR.PureFn;
          if (name === "ACT") {
            if (e.args.length !== 2) this.fail(e.span, `ACT takes 2 arguments (a value and an activation kind), got ${e.args.length}`);
            return this.makeCall(fn, [this.lowerExpr(e.args[0], scope, frame)], e.span, { act: this.actKind(e.args[1], scope) });
          }
          if (e.args.length !== form.arity) {
            const stmt = e.args.length === 2 && intrinsic(name)?.statement?.includes(2);
            this.fail(e.span, `${name}${form.arity === 1 ? "(x) in an expression" : ""} takes ${form.arity} argument${form.arity === 1 ? "" : "s"}, got ${e.args.length}${stmt ? ` (the two-argument ${name}(dst, src) is a statement)` : ""}`);
          }
          return this.makeCall(fn, e.args.map((a) => this.lowerExpr(a, scope, frame)), e.span);
        }
        if (INTRINSIC_NAMES.has(name)) this.fail(e.span, `${name} has no value: it is a statement, as in \`${name}(...);\``);
        return this.fail(e.calleeSpan, `undefined function '${name}'${this.suggest(name, [...INTRINSIC_NAMES])}`);
      }
    }
  }

  private undefinedName(name: string, scope: Scope, frame: Frame): string {
    const candidates: string[] = [...this.consts.keys()];
    for (let s: Scope | undefined = scope; s; s = s.parent) candidates.push(...s.names.keys());
    if (!frame.kernel) candidates.push(...this.sessionTensors.keys());
    if (this.types.has(name)) return `'${name}' is a type, not a value`;
    return `undefined name '${name}'${this.suggest(name, candidates)}`;
  }

  /** Resolve a tensor reference with its indexing steps, checking constant bounds statically. */
  lowerView(e: A.Expr, scope: Scope, frame: Frame, role: string): IR.View {
    if (e.kind === "name") {
      const b = scope.lookup(e.name);
      let v: IR.TensorVar | undefined = b?.kind === "tensor" ? b.v : undefined;
      if (!b && frame.kernel === undefined) v = this.sessionTensors.get(e.name);
      if (!v) {
        if (b?.kind === "loop") this.fail(e.span, `${role} must be a tensor, but '${e.name}' is a loop variable`);
        if (b?.kind === "const" || this.consts.has(e.name)) this.fail(e.span, `${role} must be a tensor, but '${e.name}' is a const`);
        this.fail(e.span, this.undefinedName(e.name, scope, frame));
      }
      return { base: v, steps: [], shape: v.type.shape, precision: v.type.precision, space: v.type.space, isStatic: true, span: e.span };
    }
    if (e.kind === "index") {
      const inner = this.lowerView(e.target, scope, frame, role);
      if (e.items.length > inner.shape.length) {
        this.fail(e.span, `too many indices: '${inner.base.name}' ${inner.steps.length ? "(as indexed) " : ""}has rank ${inner.shape.length}, but ${e.items.length} indices were given`);
      }
      const step: IR.IndexSel[] = [];
      const shape: number[] = [];
      let isStatic = inner.isStatic;
      e.items.forEach((item, axis) => {
        const dim = inner.shape[axis];
        if (item.kind === "all") {
          step.push({ kind: "all" });
          shape.push(dim);
        } else if (item.kind === "at") {
          const index = this.lowerIndexExpr(item.index, scope, frame, "an index");
          if (index.kind === "const") {
            if (index.value < 0 || index.value >= dim) this.fail(item.span, `index ${index.value} is out of range for axis ${axis} of '${inner.base.name}' (size ${dim})`);
          } else isStatic = false;
          step.push({ kind: "at", index });
        } else {
          const length = this.constInt(item.length, scope, "a window length");
          if (length <= 0 || length > dim) this.fail(item.length.span, `window length ${length} does not fit axis ${axis} of '${inner.base.name}' (size ${dim})`);
          const start = this.lowerIndexExpr(item.start, scope, frame, "a window start");
          if (start.kind === "const") {
            if (start.value < 0 || start.value + length > dim) this.fail(item.span, `window ${start.value} +: ${length} is out of range for axis ${axis} of '${inner.base.name}' (size ${dim})`);
          } else isStatic = false;
          step.push({ kind: "window", start, length });
          shape.push(length);
        }
      });
      for (let axis = e.items.length; axis < inner.shape.length; axis++) shape.push(inner.shape[axis]);
      return { base: inner.base, steps: [...inner.steps, step], shape, precision: inner.precision, space: inner.space, isStatic, span: e.span };
    }
    return this.fail(e.span, `${role} must be a tensor or a part of one (x, x[i], x[i +: N])`);
  }
}

/** Calls that only have an expression form as written: SUM(x), MAXIMUM(a, b), EXP(x - 1). */
function isValueOnlyCall(c: A.CallExpr): boolean {
  const isView = (e: A.Expr | undefined) => e !== undefined && (e.kind === "name" || e.kind === "index");
  switch (c.callee) {
    case "SUM": case "MAX": case "MEAN": case "TRANSPOSE": return c.args.length === 1;
    case "MAXIMUM": case "MINIMUM": return true;
    case "EXP": case "LOG": case "SQRT": case "TANH": case "ABS": case "SOFTMAX": return c.args.length === 1 && !isView(c.args[0]);
    case "ACT": return c.args.length === 2 && !isView(c.args[0]);
    default: return false;
  }
}

const placeholderType: TensorType = { name: "?", precision: "f32", shape: [], space: "Global", layout: { kind: "RowMajor" } };

function constExpr(value: number, compute: ComputeKind, span: Span): IR.Expr {
  if (compute === "i32" && (value < INT32_MIN || value > INT32_MAX)) compute = "f32";
  return { kind: "const", value, shape: [], compute, span };
}

function foldBinary(op: string, a: number, b: number, compute: ComputeKind): number | undefined {
  if (compute === "i32") {
    switch (op) {
      case "+": return (a + b) | 0;
      case "-": return (a - b) | 0;
      case "*": return Math.imul(a, b);
      case "/": return b === 0 ? undefined : Math.trunc(a / b) | 0;
      case "%": return b === 0 ? undefined : a % b | 0;
    }
  }
  const f = Math.fround;
  switch (op) {
    case "+": return f(f(a) + f(b));
    case "-": return f(f(a) - f(b));
    case "*": return f(f(a) * f(b));
    case "/": return f(f(a) / f(b));
    case "%": return f(f(a) % f(b));
  }
  return undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 3) return 99;
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}
