// Front end unit tests: the lexer, the parser and the checker; diagnostics are
// `file:line:col: error: message`, then the source line and a caret.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkSource } from "../compiler/checker.js";
import { DiagnosticBag, DiagnosticError, formatDiagnostics, RuntimeFault, sortDiagnostics } from "../compiler/diagnostics.js";
import { tokenize } from "../compiler/lexer.js";
import { parseSource } from "../compiler/parser.js";
import { SourceFile } from "../compiler/source.js";
import { Session } from "../runtime/session.js";
import { bindParam, DirectorySource } from "../runtime/weights.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createExecutor } from "../backends/index.js";
import { RunIO } from "../runtime/executor.js";

/** The formatted diagnostics of checking `text` ("" when it checks). */
function errorsOf(text: string): string {
  const { diagnostics } = checkSource("t.ta", text);
  return formatDiagnostics(sortDiagnostics(diagnostics.items)); // as the CLI prints them
}
function ok(text: string): void {
  const e = errorsOf(text);
  assert.is(e, "", e);
}
/** Each expectation is a `line:col: error: message-prefix`. */
function fails(text: string, ...expected: string[]): void {
  const out = errorsOf(text);
  const lines = out.split("\n").filter((l) => l.startsWith("t.ta:"));
  assert.is(lines.length, expected.length, out);
  expected.forEach((e, i) => assert.ok(lines[i].startsWith(`t.ta:${e}`), `expected t.ta:${e}\n got ${lines[i]}`));
}
/** Run top-level statements and a kernel in a session; returns printed lines or throws. */
const interp = await createExecutor("interp");
/** Check and run a program in a session on the interpreter (synchronously: nothing to build). */
function runIn(s: Session, file: SourceFile, io: RunIO): void {
  s.runPrepared(s.check([file]), interp, io);
}
function run(text: string): string[] {
  const lines: string[] = [];
  runIn(new Session(), new SourceFile("r.ta", text), { print: (l) => lines.push(l) });
  return lines;
}
function runFault(text: string): string {
  try {
    run(text);
  } catch (e) {
    assert.instance(e, RuntimeFault);
    return formatDiagnostics((e as DiagnosticError).diagnostics);
  }
  return assert.unreachable("expected a run-time fault") as never;
}

// ---- lexer ------------------------------------------------------------------------------------

test("lexer: numbers, comments, punctuation", () => {
  const diags = new DiagnosticBag();
  const toks = tokenize(new SourceFile("l.ta", "x = -1.5e-3 + 2 % 3 / .5; // c\n/* a\n b */ 0..N y[1 +: 2] 1e5 7E+2"), diags);
  assert.is(diags.items.length, 0);
  assert.equal(toks.map((t) => t.text), ["x", "=", "-", "1.5e-3", "+", "2", "%", "3", "/", ".5", ";", "0", "..", "N", "y", "[", "1", "+:", "2", "]", "1e5", "7E+2", "end of input"]);
  const nums = toks.filter((t) => t.kind === "number");
  assert.equal(nums.map((t) => [t.value, t.isInt]), [[1.5e-3, false], [2, true], [3, true], [0.5, false], [0, true], [1, true], [2, true], [1e5, false], [700, false]]);
});

test("lexer: positions are 1-based line and column", () => {
  const f = new SourceFile("p.ta", "a\n  bb\n\tc");
  const toks = tokenize(f, new DiagnosticBag());
  assert.equal(toks.slice(0, 3).map((t) => f.position(t.span.start)), [{ line: 1, col: 1 }, { line: 2, col: 3 }, { line: 3, col: 2 }]);
});

test("lexer: bad characters, huge numbers, unterminated comments", () => {
  fails("const A = 1; @", "1:14: error: unexpected character '@' (U+0040)");
  fails("const A = 1e999;", "1:11: error: number '1e999' is out of range");
  fails("const A = 1;\n  /* never closed", "2:3: error: unterminated block comment: '/*' has no closing '*/'");
});

// ---- parser: every construct ------------------------------------------------------------------

const EVERYTHING = `
target cpu { arch = x86_64; lanes = 8; name = "avx"; }
const N = 4;
const F = -1.5e-3 * 2 + SQRT(16.0) / EXP(0.0) - LOG(1.0) + ABS(-1.0) + TANH(0.0);
const M = (N + 2) * 3 % 5 / 2;
type A = Tensor<f32, {2,2}, TileReg, RowMajor>;
type G = Tensor<f16, {N, 2 * N}, Global, ColMajor>;
type S = Tensor<bf16, {4, 4}, Shared, Tiled(2x2)>;
type L = Tensor<int8, {4}, L1>;
type I = Tensor<int32, {}>;
type R4 = Tensor<f32, {1, 2, 3, 4}>;
type V = Tensor<f32, {N}>;
type Q = Tensor<int32, {3}>;
type T = Tensor<f32, {4, 4}, TileReg>;
type W = Tensor<f32, {N, 2}>;
type Tensor2 = Tensor<f32, {2,2}>;

kernel inner(V v) { v = v * 2; }

kernel all(A a, G g, Tensor2 g2, S s, L l, I i, R4 r, V v, Q q, T t, W w) {
  const K = N - 1;
  A b;
  T u;
  V e = 1;
  LOAD(b, a);
  STORE(g2, b);
  MMUL(b, a, a);
  MADD(b, a, a, a);
  REDUCE(v);
  REDUCE(e, v);
  SOFTMAX(v);
  SOFTMAX(e, v);
  EXP(v); EXP(e, v); LOG(v); SQRT(v); SQRT(e, v); TANH(v); ABS(v);
  SUM(i, q); MAX(i, q); MEAN(e[0 +: 1], v);
  TRANSPOSE(u, t);
  ACT(v, GELU); ACT(v, SILU); ACT(v, GELU_ERF); ACT(v, RELU); ACT(v, 1); ACT(v, 2); ACT(v, 3); ACT(v, 4);
  LOOKUP(e[0 +: 2], w, i);
  CAUSAL_MASK(t, 0);
  CAUSAL_MASK(v, K);
  SYNC(v);
  batch(j = 0..N step 1) {
    batch(k = j..i + 1 step 2) {
      v[j] = v[k % N] + e[K - k % N];
      t[j, 1 +: 2] = t[k % 4][0 +: 2] * 2;
      t[:, j] = -t[j];
    }
  }
  inner(v);
  inner(e);
  e = MAXIMUM(v, 0.5) + MINIMUM(v, e) - SUM(v) * MAX(v) / MEAN(v);
  e = SOFTMAX(v) + ACT(v, GELU) + EXP(v - MAX(v)) + SQRT(ABS(v) + 1e-5) + LOG(v) + TANH(v) + INF * 0;
  r[0, 1][2] = 3;
  g2 = TRANSPOSE(g2) - MEAN(TRANSPOSE(g2));
  i = i / 2 + 7 % 3;
}

V top = 2;
top = top + 1;
inner(top);
top
`;

test("parser and checker: every construct of the base grammar and the extensions", () => {
  ok(EVERYTHING);
  const { program } = checkSource("t.ta", EVERYTHING);
  assert.equal(program.kernels.map((k) => k.name), ["inner", "all"]);
  assert.is(program.consts.get("M"), 1); // (6 * 3) % 5 / 2 = 3 / 2 = 1
  assert.is(program.target?.settings.lanes, 8);
  assert.equal(program.types.get("G")?.shape, [4, 8]);
  assert.equal(program.types.get("S")?.layout, { kind: "Tiled", rows: 2, cols: 2 });
  assert.equal(program.types.get("I")?.shape, []);
  assert.is(program.topLevel.at(-1)?.kind, "show");
});

test("parser: a program that parses has a matching AST", () => {
  const diags = new DiagnosticBag();
  const ast = parseSource(new SourceFile("a.ta", "kernel k(T a) { batch(i = 0..4) { a[i, 0 +: 2] = -a[:, i] * 2; } }"), diags);
  assert.is(diags.items.length, 0);
  const k = ast.items[0];
  assert.is(k.kind, "kernel");
  if (k.kind !== "kernel") return;
  const b = k.body[0];
  assert.is(b.kind, "batch");
  if (b.kind !== "batch") return;
  assert.is(b.step, undefined);
  const s = b.body[0];
  assert.is(s.kind, "assign");
  if (s.kind === "assign" && s.target.kind === "index") assert.equal(s.target.items.map((i) => i.kind), ["at", "window"]);
});

test("parser: syntax errors recover and report several", () => {
  fails("type V = Tensor<f32, {4}>;\nkernel k(V x) {\n  x = 1 +;\n  x = (2;\n  x = 3;\n}", "3:10: error: expected an expression, found ';'", "4:9: error: expected ')' to close the parenthesis, found ';'");
  fails("kernel k( {", "1:11: error: expected a name (a parameter type), found '{'");
  fails("type V = Tensor<f32, {4}, Global, Tiled(4, 4)>;", "1:42: error: expected 'x' between the tile sizes");
  fails("kernel k() {\n  batch(i = 0 to 4) {}\n}", "2:15: error: expected '..' between the loop bounds");
  fails("kernel k() {", "1:13: error: expected '}' before the end of input");
  fails("kernel k() { } }", "1:16: error: expected an expression, found '}'");
});

test("parser: deep nesting is an error, not a stack overflow", () => {
  const deep = "const A = " + "(".repeat(5000) + "1" + ")".repeat(5000) + ";";
  assert.match(errorsOf(deep), /1:\d+: error: expression nested deeper than 1000 levels/);
  const neg = "const A = " + "-".repeat(5000) + "1;";
  assert.match(errorsOf(neg), /1:\d+: error: expression nested deeper than 1000 levels/);
});

// ---- checker: each class of error ---------------------------------------------------------------

const V = "type V = Tensor<f32, {4}>;\n";
const TM = "type T = Tensor<f32, {2,2}, TileReg>;\ntype G = Tensor<f32, {2,2}>;\n";

test("checker: undefined and duplicate names", () => {
  fails(V + "kernel k(V x) { x = y; }", "2:21: error: undefined name 'y'");
  fails(V + "kernel k(U x) { }", "2:10: error: undefined type 'U'");
  fails(V + "kernel k(V x) { foo(x); }", "2:17: error: undefined kernel or intrinsic 'foo'");
  fails(V + "kernel k(V x) { x = FOO(x); }", "2:21: error: undefined function 'FOO'");
  fails(V + "const V = 1;", "2:7: error: duplicate definition of const 'V'");
  fails(V + "type V = Tensor<f32, {2}>;", "2:6: error: duplicate definition of type 'V'");
  fails(V + "kernel k(V x, V x) { }", "2:17: error: duplicate parameter 'x' in kernel 'k'");
  fails(V + "kernel k(V x) { V y; V y; }", "2:24: error: duplicate definition of 'y' in this scope");
  fails(V + "kernel k(V x) { x = V; }", "2:21: error: 'V' is a type, not a value");
  fails(V + "kernel MMUL(V x) { }", "2:8: error: 'MMUL' is an intrinsic and cannot name a kernel");
  fails("const A = B + 1;", "1:11: error: undefined const 'B'");
});

test("checker: intrinsic and kernel arity, argument types, recursion", () => {
  fails(TM + "kernel k(T a) { MMUL(a, a); }", "3:17: error: MMUL takes 3 arguments, got 2");
  fails(TM + "kernel k(T a) { REDUCE(a, a, a); }", "3:17: error: REDUCE takes 1 or 2 arguments, got 3");
  fails(V + "kernel f(V a) { }\nkernel k(V a) { f(a, a); }", "3:17: error: kernel 'f' takes 1 argument, got 2");
  fails(V + "type H = Tensor<f16, {4}>;\nkernel f(V a) { }\nkernel k(H a) { f(a); }", "4:19: error: argument 1 of 'f' has type Tensor<f16, {4}, Global>, but parameter 'a' is Tensor<f32, {4}, Global, RowMajor>");
  fails(V + "type R = Tensor<f32, {4}, TileReg>;\nkernel f(V a) { }\nkernel k(R a) { f(a); }", "4:19: error: argument 1 of 'f' has type Tensor<f32, {4}, TileReg>");
  fails(V + "kernel f(V a) { f(a); }", "2:17: error: recursion is not allowed: kernel 'f' calls itself");
  fails(V + "kernel f(V a) { g(a); }\nkernel g(V a) { f(a); }", "2:1: error: recursion is not allowed: f -> g -> f");
  fails(V + "kernel f(V a) { }\nkernel k(V a) { a = f(a); }", "3:21: error: kernel 'f' has no value");
  fails(V + "kernel k(V a) { a = MMUL(a, a, a); }", "2:21: error: MMUL has no value: it is a statement");
  fails(V + "kernel k(V a) { a = EXP(a, a); }", "2:21: error: EXP(x) in an expression takes 1 argument, got 2");
  fails(V + "kernel k(V a) { ACT(a, 7); }", "2:24: error: unknown activation 7");
});

test("checker: shape mismatch and broadcast failures", () => {
  fails(V + "type W = Tensor<f32, {3}>;\nkernel k(V a, W b) { a = a + b; }", "3:26: error: shapes {4} and {3} do not broadcast for '+'");
  fails(V + "type M = Tensor<f32, {2,4}>;\nkernel k(V a, M m) { a = m; }", "3:26: error: cannot assign a value of shape {2, 4} to 'a' of shape {4}");
  fails(V + "type W = Tensor<f32, {3}>;\nkernel k(V a, W b) { a = MAXIMUM(a, b); }", "3:26: error: MAXIMUM: shapes {4} and {3} do not broadcast");
  fails(TM + "type U = Tensor<f32, {3,2}, TileReg>;\nkernel k(T a, U b) { MMUL(a, a, b); }", "4:22: error: MMUL: A has 2 columns but B has 3 rows");
  fails(TM + "type U = Tensor<f32, {3,3}, TileReg>;\nkernel k(T a, U b) { MMUL(b, a, a); }", "4:27: error: MMUL: the accumulator has shape {3, 3}, but the product has shape {2, 2}");
  fails(TM + "kernel k(G a, T t) { LOAD(t, a[0]); }", "3:22: error: LOAD needs equal shapes: {2, 2} and {2}");
  fails(V + "type S = Tensor<f32, {}>;\nkernel k(S s) { SOFTMAX(s); }", "3:17: error: SOFTMAX works along the last axis");
  fails(V + "kernel k(V a) { a = TRANSPOSE(a); }", "2:21: error: TRANSPOSE needs a 2-D operand, got shape {4}");
});

test("checker: TileReg affinity and precision rules", () => {
  fails(TM + "kernel k(G g, T t) { MMUL(t, g, t); }", "3:30: error: MMUL operands must be TileReg (hardware affinity), but 'g' is in Global");
  // an operand written TRANSPOSE(x): x read transposed, so the shapes are checked swapped
  ok(TM + "type U = Tensor<f32, {3,2}, TileReg>;\ntype P = Tensor<f32, {2,3}, TileReg>;\nkernel k(T a, U b, P p) { MMUL(p, a, TRANSPOSE(b)); MADD(a, TRANSPOSE(a), a, a[0]); }");
  fails(TM + "type U = Tensor<f32, {2,3}, TileReg>;\ntype P = Tensor<f32, {2,3}, TileReg>;\nkernel k(T a, U b, P p) { MMUL(p, a, TRANSPOSE(b)); }", "5:27: error: MMUL: A has 2 columns but B has 3 rows ({2, 2} · {3, 2})");
  fails(TM + "type U = Tensor<f32, {2}, TileReg>;\nkernel k(T a, U v) { MMUL(v, a, TRANSPOSE(v)); }", "4:33: error: TRANSPOSE needs a 2-D operand, got shape {2}");
  fails(TM + "kernel k(G g, T t) { MMUL(t, t, TRANSPOSE(g)); }", "3:43: error: MMUL operands must be TileReg (hardware affinity), but 'g' is in Global");
  fails(TM + "kernel k(T t) { MMUL(t, t, TRANSPOSE(t, t)); }", "3:28: error: TRANSPOSE takes 1 argument, got 2");
  fails(TM + "kernel k(G g, T t) { LOAD(g, t); }", "3:27: error: LOAD copies into TileReg memory, but 'g' is in Global");
  fails(TM + "kernel k(G g, T t) { STORE(t, t); }", "3:28: error: STORE writes to memory outside the tile registers");
  fails("type Q = Tensor<int8, {2,2}, TileReg>;\ntype A = Tensor<int8, {2,2}, TileReg>;\nkernel k(Q q, A a) { MMUL(a, q, q); }", "3:22: error: MMUL: operands of precision int8 and int8 cannot accumulate into int8");
  ok("type Q = Tensor<int8, {2,2}, TileReg>;\ntype A = Tensor<int32, {2,2}, TileReg>;\nkernel k(Q q, A a) { MMUL(a, q, q); }");
  fails("type Q = Tensor<int32, {4}>;\nkernel k(Q q) { CAUSAL_MASK(q, 0); }", "2:29: error: CAUSAL_MASK needs a float tensor");
  fails("type Q = Tensor<f32, {4}>;\ntype T = Tensor<f32, {4,2}>;\nkernel k(Q q, T t) { LOOKUP(t[0], t, q); }", "3:38: error: LOOKUP needs an int32 index tensor, got f32");
  fails(V + "kernel k(V a) { a[1.5] = 0; }", "2:19: error: an index must be an integer, got a float value");
});

test("checker: static window and index bounds", () => {
  fails(V + "kernel k(V a) { a[4] = 0; }", "2:19: error: index 4 is out of range for axis 0 of 'a' (size 4)");
  fails(V + "kernel k(V a) { a[-1] = 0; }", "2:19: error: index -1 is out of range");
  fails(V + "kernel k(V a) { a[2 +: 3] = 0; }", "2:19: error: window 2 +: 3 is out of range for axis 0 of 'a' (size 4)");
  fails(V + "kernel k(V a) { a[0 +: 0] = 0; }", "2:24: error: window length 0 does not fit axis 0");
  fails(V + "kernel k(V a) { batch(i = 0..2) { a[i +: N] = 0; } }", "2:42: error: undefined const 'N'");
  fails(V + "kernel k(V a) { a[0, 0] = 0; }", "2:17: error: too many indices: 'a' has rank 1, but 2 indices were given");
  ok(V + "kernel k(V a) { batch(i = 0..2) { a[i * 2 +: 2] = 1; } }"); // dynamic: checked at run time
});

test("checker: bad precision, space, layout, rank and dimensions", () => {
  fails("type A = Tensor<f64, {2}>;", "1:17: error: unknown precision 'f64'");
  fails("type A = Tensor<f32, {2}, Stack>;", "1:27: error: unknown memory space 'Stack'");
  fails("type A = Tensor<f32, {2,2}, Global, Spiral>;", "1:37: error: unknown layout 'Spiral'");
  fails("type A = Tensor<f32, {2}, Global, Tiled(2x2)>;", "1:35: error: a Tiled layout needs a tensor of rank 2 or more");
  fails("type A = Tensor<f32, {1,2,3,4,5}>;", "1:10: error: tensors have rank 0 to 4; this one has 5 dimensions");
  fails("type A = Tensor<f32, {2.5}>;", "1:23: error: a dimension must be an integer, got 2.5");
  fails("type A = Tensor<f32, {-2}>;", "1:23: error: dimensions must be positive, got -2");
  fails("type A = Tensor<f32, {65536, 65536}>;", "1:10: error: tensor of shape {65536, 65536} has 4294967296 elements");
});

test("checker: const expressions", () => {
  fails("const A = 4 / 0;", "1:11: error: division by zero in a const expression");
  fails("const A = 4 % (2 - 2);", "1:11: error: division by zero in a const expression");
  fails("const A = 9007199254740992 * 4;", "1:11: error: const expression overflows");
  fails("const A = MAXIMUM(1);", "1:11: error: 'MAXIMUM(...)' cannot be used in a const expression");
  fails("const A = SUM(1, 2);", "1:11: error: 'SUM(...)' cannot be used in a const expression");
  fails("type V = Tensor<f32, {4}>;\nkernel k(V a) { const B = a + 1; }", "2:27: error: 'a' is not a constant");
  fails("kernel k() { }\ntype V = Tensor<f32, {4}>;\nkernel j(V a) { a = 1 / 0; }", "3:25: error: integer division by zero");
  const { program } = checkSource("c.ta", "const A = -7 / 2;\nconst B = -7 % 2;\nconst C = 7.0 / 2;\nconst D = SQRT(2.0) * SQRT(2.0);");
  assert.equal([...program.consts.values()], [-3, -1, 3.5, 2.0000000000000004]);
  // MINIMUM/MAXIMUM of two: an integer when both are (usable in shapes), else a float
  const mm = checkSource("m.ta", "const N = 40;\nconst P = MINIMUM(64, N) / 16 * 16;\nconst Q = MAXIMUM(1, 2.5);\ntype T = Tensor<f32, {P}>;").program;
  assert.equal([mm.consts.get("P"), mm.consts.get("Q")], [32, 2.5]);
});

test("several errors in one run, sorted by position, each with a caret line", () => {
  const out = errorsOf(V + "kernel k(V a) {\n  a = b;\n  a = a + c;\n}\n@");
  assert.is(out, [
    "t.ta:3:7: error: undefined name 'b' (did you mean 'a'?)",
    "    a = b;",
    "        ^",
    "t.ta:4:11: error: undefined name 'c' (did you mean 'a'?)",
    "    a = a + c;",
    "            ^",
    "t.ta:6:1: error: unexpected character '@' (U+0040)",
    "  @",
    "  ^",
  ].join("\n"));
});

test("a caret underlines the whole offending token", () => {
  const out = errorsOf("type A = Tensor<float32, {2}>;");
  assert.is(out.split("\n")[2], "                  ^~~~~~~");
});

// ---- run-time faults name the source line -----------------------------------------------------

test("run time: dynamic index and window out of range", () => {
  const w = runFault("type V = Tensor<f32, {4}>;\ntype P = Tensor<f32, {2}>;\nkernel k(V a, P p) {\n  batch(i = 0..3) { p = a[i * 2 +: 2]; }\n}\nV x;\nP y;\nk(x, y);");
  assert.is(w.split("\n")[0], "r.ta:4:27: error: window 4 +: 2 is out of range for axis 0 of 'a' (size 4)");
  const i = runFault("type V = Tensor<f32, {4}>;\nV x;\nbatch(i = 0..5) { x[i] = 1; }");
  assert.is(i.split("\n")[0], "r.ta:3:21: error: index 4 is out of range for axis 0 of 'x' (size 4)");
  const n = runFault("type V = Tensor<f32, {4}>;\ntype I = Tensor<int32, {}>;\nV x;\nI k = -1;\nx[k] = 1;");
  assert.is(n.split("\n")[0], "r.ta:5:3: error: index -1 is out of range for axis 0 of 'x' (size 4)");
});

test("run time: integer division by zero, LOOKUP out of range, bad loop step", () => {
  assert.match(runFault("type I = Tensor<int32, {2}>;\nI a;\na = 5 / a;"), /^r\.ta:3:5: error: integer division by zero/);
  assert.match(runFault("type I = Tensor<int32, {}>;\nI a;\nI b = 7 % a;"), /^r\.ta:3:7: error: integer division by zero/);
  assert.match(runFault("type T = Tensor<f32, {3,2}>;\ntype I = Tensor<int32, {}>;\ntype R = Tensor<f32, {2}>;\nT t;\nI i = 3;\nR r;\nLOOKUP(r, t, i);"),
    /^r\.ta:7:1: error: LOOKUP index 3 is out of range for a table of 3 rows/);
  assert.match(runFault("type I = Tensor<int32, {}>;\nI s;\nbatch(i = 0..3 step s) { }"), /^r\.ta:3:21: error: the loop step must be positive, got 0/);
  // float division by zero is not an error
  assert.equal(run("type F = Tensor<f32, {}>;\nF a = 1.0 / 0;\nREDUCE(a);"), ["inf"]);
});

test("run time: a weight file of the wrong size names the file and the parameter", () => {
  const dir = mkdtempSync(join(tmpdir(), "tc-w-"));
  writeFileSync(join(dir, "w.bin"), Buffer.alloc(10));
  const { program } = checkSource("k.ta", "type V = Tensor<f32, {4}>;\nkernel k(V w) { }");
  const p = program.kernels[0].params[0];
  try {
    bindParam("w", p.type, new DirectorySource(dir), 0.5, p.span);
    assert.unreachable("bound a short file");
  } catch (e) {
    assert.instance(e, RuntimeFault);
    const msg = formatDiagnostics((e as RuntimeFault).diagnostics);
    assert.match(msg, /^k\.ta:2:12: error: .*w\.bin: 'w' holds 10 bytes, but a f32 tensor of shape \{4\} needs 16 bytes/);
  }
});

test("sessions: later cells see and may redefine earlier definitions", () => {
  const s = new Session();
  const lines: string[] = [];
  const io = { print: (l: string) => lines.push(l) };
  runIn(s, new SourceFile("c1", "const N = 3;\ntype V = Tensor<f32, {N}>;\nV x = 2;\nkernel dbl(V v) { v = v * 2; }"), io);
  runIn(s, new SourceFile("c2", "dbl(x);\nREDUCE(x);"), io);
  runIn(s, new SourceFile("c3", "const N = 2;\ntype V = Tensor<f32, {N}>;\nV x = 1;\nREDUCE(x);"), io);
  assert.equal(lines, ["12", "2"]);
  assert.throws(() => s.check([new SourceFile("c4", "dbl(x);")]), (e: Error) => /argument 1 of 'dbl'/.test(e.message));
});

test("a shown value stands outside loops (one value, on both back ends)", () => {
  fails("type V = Tensor<f32, {3}>;\nV x;\nbatch(i = 0..2) {\n  x[i];\n}\n", "4:3: error: a value is shown only outside loops");
});

test.run();
