// The eigen back end: every example agrees with the interpreter (exact-MMUL and fast builds), the
// fast f32 MMUL stays within its documented error bound, run-time faults and interrupts map back to
// the .ta source, bad set-ups give one clear sentence, failed builds leave nothing in the cache,
// hostile names/literals/target settings cannot reach the C++, and `tensorcore compile` works.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { checkSource, checkSources } from "../compiler/checker.js";
import { DiagnosticError, Interrupted, RuntimeFault } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { cacheDir } from "../compiler/eigen/build.js";
import { emitCpp } from "../compiler/eigen/emit-cpp.js";
import { targetConfig } from "../compiler/eigen/target.js";
import { Session } from "../runtime/session.js";
import { TensorView, toNumbers } from "../runtime/tensor.js";
import { bindParam, DirectorySource } from "../runtime/weights.js";
import { cloneViews, close, eigenFor, makeInputs, reference, runEigen, runInterp } from "./gen/compare.js";
import { entryKernel } from "../compiler/entry.js";
import { Executor } from "../runtime/executor.js";

const root = process.cwd();
const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith(".ta") ? [join(d, e.name)] : []));
const exampleFiles = existsSync(join(root, "examples")) ? walk(join(root, "examples")).sort() : [];

interface Example { file: string; program?: IR.Program; checkError?: string }
const examples: Example[] = exampleFiles.map((file) => {
  const s = new Session();
  try {
    return { file, program: s.check([new SourceFile(relative(root, file), readFileSync(file, "utf8"))]) };
  } catch (e) {
    return { file, checkError: (e as Error).message };
  }
});

/** What `tensorcore run --json` prints, computed in-process (top level, then the entry kernel). */
function runExample(ex: Example, executor: Executor): { stdout: string[]; params: Record<string, { dtype: string; data: number[] }>; error?: string } {
  const program = ex.program!;
  const stdout: string[] = [];
  const io = { print: (l: string) => stdout.push(l) };
  const session = new Session();
  session.define(program);
  const params: Record<string, { dtype: string; data: number[] }> = {};
  try {
    executor.runTopLevel(program, session.store, io);
    const kernel = entryKernel(program);
    if (kernel) {
      const wdir = join(dirname(ex.file), "weights");
      const source = existsSync(wdir) ? new DirectorySource(wdir) : undefined;
      const args: TensorView[] = kernel.params.map((p) => bindParam(p.name, p.type, source, 0.5, p.span));
      executor.runKernel(kernel, args, io);
      kernel.params.forEach((p, i) => { params[p.name] = { dtype: args[i].precision, data: toNumbers(args[i]) }; });
    }
  } catch (e) {
    return { stdout, params, error: (e as Error).message };
  }
  return { stdout, params };
}

let fast: Executor, exact: Executor;
const runnable = examples.filter((e) => e.program);

test.before(async () => {
  const programs = runnable.map((e) => e.program!);
  [fast, exact] = await Promise.all([
    eigenFor(programs, {}),
    eigenFor(programs, { emit: { exactMmul: true, parallelThreshold: 0, optLevel: 1 } }),
  ]);
});

test("there are examples to run", () => {
  assert.ok(runnable.length >= 10, `found ${runnable.length} runnable examples`);
});

/**
 * Exact build: bitwise up to libm rounding (f32 rel 1e-6, 1 ulp f16/bf16). Fast build (Eigen f32
 * MMUL): |d| <= 1e-4·|ref| + 1e-5·max|ref of the tensor|, 2 ulps of f16/bf16, ints exact.
 */
for (const mode of ["exact", "fast"] as const) {
  for (const ex of examples) {
    test(`example ${relative(root, ex.file)} (${mode}): interp and eigen agree`, () => {
      if (!ex.program) return; // check errors: the back end is never reached
      const a = runExample(ex, reference);
      const b = runExample(ex, mode === "exact" ? exact : fast);
      assert.is(b.error, a.error);
      assert.is(b.stdout.length, a.stdout.length);
      a.stdout.forEach((l, i) => {
        if (l !== b.stdout[i]) assert.ok(Math.abs(Number(l) - Number(b.stdout[i])) <= (mode === "exact" ? 2e-5 : 1e-3) * Math.abs(Number(l)), `print ${i}: ${l} vs ${b.stdout[i]}`);
      });
      for (const [name, t] of Object.entries(a.params)) {
        const u = b.params[name];
        const scale = Math.max(0, ...t.data.filter(Number.isFinite).map(Math.abs));
        t.data.forEach((r, i) => {
          const g = u.data[i];
          const ok = mode === "exact" ? close(t.dtype, g, r, 1e-6, 1)
            : close(t.dtype, g, r, 1e-4, 2) || (t.dtype === "f32" && Math.abs(g - r) <= 1e-4 * Math.abs(r) + 1e-5 * scale);
          assert.ok(ok, `${name}[${i}] (${t.dtype}): interp ${r}, eigen ${g}`);
        });
      }
    });
  }
}

// ---- the fast MMUL's error bound -------------------------------------------------------------------

const mmSource = `
type A = Tensor<f32, {37, 200}, TileReg>;
type AC = Tensor<f32, {37, 200}, TileReg, ColMajor>;
type B = Tensor<f32, {200, 45}, TileReg>;
type H = Tensor<f16, {200, 45}, TileReg>;
type Acc = Tensor<f32, {37, 45}, TileReg>;
type Acc16 = Tensor<bf16, {37, 45}, TileReg>;
type V = Tensor<f32, {200}, TileReg>;
type Y = Tensor<f32, {37}, TileReg>;
type Z = Tensor<f32, {45}, TileReg>;
type Big = Tensor<f32, {300, 512}, TileReg>;
type BigV = Tensor<f32, {512}, TileReg>;
type BigY = Tensor<f32, {300}, TileReg>;
type Row = Tensor<f32, {45}, Global>;
kernel mm(Acc acc, A a, B b) { MMUL(acc, a, b); }
kernel mmcol(Acc acc, AC a, H b, Row c) { MADD(acc, a, b, c); }
kernel mm16(Acc16 acc, A a, B b) { MMUL(acc, a, b); }
kernel mv(Y y, A a, V v) { MMUL(y, a, v); }
kernel vm(Z z, V v, B b) { MMUL(z, v, b); }
kernel bigmv(BigY y, Big a, BigV v) { MMUL(y, a, v); }
kernel win(Z z, B b, V v) { MMUL(z[0 +: 40], v[0 +: 100], b[50 +: 100, 5 +: 40]); }
`;

test("fast MMUL: within (K+2)·2^-24·Σ|terms| of the interpreter, every form and layout", async () => {
  const { program, diagnostics } = checkSource("mm.ta", mmSource);
  assert.not.ok(diagnostics.hasErrors, diagnostics.items.map((d) => d.message).join("; "));
  const be = await eigenFor(program.kernels, {});
  for (const k of program.kernels) {
    const inputs = makeInputs(k, undefined, 7);
    const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
    assert.is(b.error, a.error);
    const acc = toNumbers(a.params[0]), got = toNumbers(b.params[0]);
    // Σ|terms| ≤ K·max|a|·max|b| + |acc| + |c| with inputs in [-1, 1]
    const K = k.name === "bigmv" ? 512 : k.name === "win" ? 100 : 200;
    const bound = (K + 2) * 2 ** -24 * (K + 2) + (k.name === "mm16" ? 2 ** -7 * 4 * K : 0);
    acc.forEach((r, i) => assert.ok(Math.abs(got[i] - r) <= bound, `${k.name}[${i}]: ${r} vs ${got[i]} (bound ${bound})`));
  }
});

// ---- faults, interrupts, prints --------------------------------------------------------------------

const faultSource = `
type I = Tensor<int32, {4}>;
type F = Tensor<f32, {4, 3}>;
type T = Tensor<f32, {5, 3}>;
type S = Tensor<int32, {}>;
kernel idx(F x, S k) { x[k] = 1.0; }
kernel win(F x, S k) { x[k +: 2] = 2.0; }
kernel div(I n, S k) { n = n / k; }
kernel look(F x, T t, I ids) { LOOKUP(x, t, ids[0 +: 4]); }
kernel step(F x, S k) { batch(i = 0..4 step k) { x[i] = 1.0; } }
kernel spin(F x, S k) { batch(i = 0..1000000) { x[i % 4] = x[i % 4] + 1.0; } }
kernel pr(F x, S k) { REDUCE(x); x[k] = 3.0; REDUCE(x); batch(i = 0..2) { REDUCE(x[i]); } }
kernel par(F x, S k) { batch(i = 0..4) { x[i] = x[i] * 2.0 + x[i, 0]; x[i, k] = 9.0; } }
`;

test("run-time faults name the .ta line, as the interpreter's do; prints arrive in order", async () => {
  const { program } = checkSource("faults.ta", faultSource);
  const be = await eigenFor(program.kernels, { emit: { parallelThreshold: 0 } });
  const cases: [string, number][] = [["idx", 4], ["idx", -1], ["win", 3], ["div", 0], ["step", 0], ["pr", 1], ["pr", 7], ["par", 2], ["par", 3]];
  for (const [name, kval] of cases) {
    const k = program.kernelByName.get(name)!;
    const inputs = makeInputs(k, { k: { kind: "int", lo: kval, hi: kval }, ids: { kind: "int", lo: 0, hi: 4 } }, 3);
    const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
    assert.is(b.error, a.error, `${name}(${kval})`);
    assert.equal(b.prints, a.prints, `${name}(${kval}) prints`);
  }
  const look = program.kernelByName.get("look")!;
  const args = makeInputs(look, { ids: { kind: "int", lo: 5, hi: 5 } }, 1);
  assert.throws(() => be.runKernel(look, args, { print: () => {} }), (e: Error) => e instanceof RuntimeFault && /faults\.ta:9:.*LOOKUP index 5 is out of range for a table of 5 rows/.test(e.message));
  const spin = program.kernelByName.get("spin")!;
  const flag = new Int32Array(new SharedArrayBuffer(4));
  Atomics.store(flag, 0, 1);
  const stoppable = await eigenFor(program.kernels, { emit: { parallelThreshold: 0 }, interrupt: flag });
  assert.throws(() => stoppable.runKernel(spin, makeInputs(spin, undefined, 1), { print: () => {} }), (e: Error) => e instanceof Interrupted);
});

// Parallel batch loops: iterations may run at once only when each writes its own slab of a tensor,
// x[i] or a column window x[:, i*W +: L] with L <= W, the same way at every access.
const slabSource = `
type M = Tensor<f32, {4, 64}>;
type H = Tensor<f32, {4, 16}>;
kernel heads(M x, M y) { batch(h = 0..4) { H t; t = x[:, h * 16 +: 16] * 2.0; y[:, h * 16 +: 16] = t + 1.0; } }
kernel rows(M x, M y) { batch(i = 0..4) { y[i] = x[i] * 3.0; } }
kernel overlap(M x, M y) { batch(h = 0..4) { y[:, h * 8 +: 16] = x[:, h * 8 +: 16] + 1.0; } }
kernel mixed(M x, M y) { batch(h = 0..4) { y[:, h * 16 +: 16] = 1.0; y[h] = y[h] + x[h]; } }
kernel reread(M x, M y) { batch(h = 0..4) { y[:, h * 16 +: 16] = x[:, 0 +: 16] + y[:, 0 +: 16]; } }
`;

test("batch loops writing disjoint column windows run in parallel; overlapping ones do not", async () => {
  const { program } = checkSource("slabs.ta", slabSource);
  const unit = emitCpp(program.kernels, { parallelThreshold: 0 });
  const body = (name: string) => {
    const from = unit.code.indexOf(`// kernel ${name},`);
    assert.ok(from >= 0, name);
    return unit.code.slice(from, unit.code.indexOf("\n}\n", from));
  };
  for (const name of ["heads", "rows"]) assert.ok(body(name).includes("par_for"), `${name} should be parallel`);
  for (const name of ["overlap", "mixed", "reread"]) assert.not.ok(body(name).includes("par_for"), `${name} must stay sequential`);
  const be = await eigenFor(program.kernels, { emit: { parallelThreshold: 0 } });
  for (const k of program.kernels) {
    const inputs = makeInputs(k, undefined, 5);
    const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
    assert.equal(toNumbers(b.params[1]), toNumbers(a.params[1]), k.name);
  }
});

const bigSource = `
type B = Tensor<f32, {64, 1024}>;
type W = Tensor<f32, {64, 2048}>;
type V = Tensor<f32, {1024}>;
type I = Tensor<int32, {64, 1024}>;
kernel act(B x, V b, B y) { y = x + b; ACT(y, GELU); y = y * 0.5 + EXP(x * 0.25); }
kernel window(B x, W y) { y[:, 1024 +: 1024] = TANH(x) - x; }
kernel rows(B x, B y) { y = (x - MEAN(x)) * SOFTMAX(x * 0.1) + MAX(x) - SUM(x); }
kernel small(V x, V y) { y = EXP(x); }
kernel divide(I a, I b, I c) { c = a / b; }
`;

test("large elementwise statements and row reductions split their rows across the pool and keep the interpreter's bits", async () => {
  const { program } = checkSource("big.ta", bigSource);
  const unit = emitCpp(program.kernels, {});
  const body = (name: string) => {
    const from = unit.code.indexOf(`// kernel ${name},`);
    return unit.code.slice(from, unit.code.indexOf("\n}\n", from));
  };
  for (const name of ["act", "window"]) assert.ok(body(name).includes("run_chunks("), `${name} should be split`);
  // each row reduction (MEAN, SOFTMAX, MAX, SUM), then the statement's two passes (y may alias x, so
  // the value is computed whole before it is stored): six split loops
  assert.is(body("rows").split("run_chunks(").length - 1, 6, "rows: every reduction split");
  // too small to pay; an integer division reports its fault through one thread's F
  for (const name of ["small", "divide"]) assert.not.ok(body(name).includes("run_chunks("), `${name} must stay on one thread`);
  const be = await eigenFor(program.kernels);
  for (const k of program.kernels.filter((k) => k.name !== "divide")) {
    const inputs = makeInputs(k, undefined, 7);
    const out = k.params.length - 1;
    const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
    assert.equal(toNumbers(b.params[out]), toNumbers(a.params[out]), k.name);
  }
});

// ---- set-up problems and failed builds -----------------------------------------------------------------

test("a missing C++ compiler is one clear sentence", async () => {
  const { program } = checkSource("nocxx.ta", "type F = Tensor<f32, {2}>;\nkernel k(F x) { x = x + 1.0; }\n");
  const saved = process.env.TENSORCORE_CXX;
  process.env.TENSORCORE_CXX = "/nonexistent/g++";
  try {
    await eigenFor([program], {});
    assert.unreachable("should fail");
  } catch (e) {
    assert.instance(e, DiagnosticError);
    const msg = (e as Error).message;
    assert.match(msg, /could not be run: install g\+\+/);
    assert.is(msg.split("\n").length, 1);
  } finally {
    if (saved === undefined) delete process.env.TENSORCORE_CXX; else process.env.TENSORCORE_CXX = saved;
  }
});

test("a C++ error maps to the .ta statement, and the failed build leaves no .so in the cache", async () => {
  const src = "type F = Tensor<f32, {2}>;\nkernel k(F x) {\n  x = x + 1.0;\n  x = x * 2.0;\n}\n";
  const { program } = checkSource("broken.ta", src);
  const list = () => readdirSync(cacheDir()).filter((f) => f.endsWith(".so") || f.includes(".tmp-")).sort();
  const before = list();
  try {
    await eigenFor([program], { emit: { injectErrorAt: 1 } });
    assert.unreachable("should fail");
  } catch (e) {
    assert.instance(e, DiagnosticError);
    assert.match((e as Error).message, /^broken\.ta:4:3: error: the C\+\+ compiler rejected the code generated for this statement/);
  }
  assert.equal(list(), before);
});

// ---- security ----------------------------------------------------------------------------------------

const hostile = `
type F = Tensor<f32, {2, 3}>;
type G = Tensor<f16, {3}>;
kernel system(F int, G main) { int = int * 1e39 + 1.0e-45 - 3.4028235e38; main = main + 1e-40; }
kernel Eigen(F std, F __asm__, G tcrt) { system(std, tcrt); __asm__ = std * 2.0 + 7e-46; REDUCE(__asm__); }
kernel p0(F F, F rt, G L4) { Eigen(F, rt, L4); L4 = MAXIMUM(F[0], rt[1]) * INF; }
`;

test("hostile names and literals cannot inject C++ and still compute the interpreter's values", async () => {
  const { program, diagnostics } = checkSource("hostile.ta", hostile);
  assert.not.ok(diagnostics.hasErrors, diagnostics.items.map((d) => d.message).join("; "));
  const unit = emitCpp(program.kernels);
  // names only appear mangled (k0s0_system, p1, L2): never as C++ tokens of their own
  for (const raw of [/__asm__/, /\bsystem\(/, /\bmain\(/, /\bEigen\(/, /1e39/]) assert.not.match(unit.code, raw, `raw ${raw} in the C++`);
  const be = await eigenFor([program], {});
  for (const k of program.kernels) {
    const inputs = makeInputs(k, undefined, 5);
    const a = runInterp(k, cloneViews(inputs)), b = runEigen(be, k, cloneViews(inputs));
    assert.is(b.error, a.error);
    assert.equal(b.prints, a.prints);
    a.params.forEach((t, i) => toNumbers(t).forEach((r, j) => assert.ok(close(t.precision, toNumbers(b.params[i])[j], r, 0, 0), `${k.name} param ${i}[${j}]`)));
  }
});

test("target settings are whitelisted", () => {
  const cfg = (text: string) => {
    const { program, diagnostics } = checkSources([new SourceFile("t.ta", text)]);
    if (diagnostics.hasErrors) throw new DiagnosticError(diagnostics.items);
    return targetConfig(program.target);
  };
  assert.throws(() => cfg(`target cpu { flags = "-o /tmp/x"; }`), /only these flags are allowed/);
  assert.throws(() => cfg(`target cpu { march = "native; rm -rf ~"; }`), /must be x86_64, host or one of/);
  assert.throws(() => cfg(`target cpu { march = native; rm }`), (e: Error) => e instanceof DiagnosticError); // a syntax error already
  assert.throws(() => cfg(`target cpu { threads = "2; echo"; }`), /integer from 1 to 1024/);
  assert.equal(cfg(`target cpu { arch = x86_64; vector = 8; simd = avx2; flags = "-funroll-loops"; }`).flags, ["-mavx2", "-mfma", "-funroll-loops"]);
  assert.is(cfg(`target cpu { tile = 64; }`).warnings.length, 1);
});

// ---- the CLI -------------------------------------------------------------------------------------------

test("tensorcore compile writes C++; with --main it builds into a program that prints what REDUCE prints", () => {
  const dir = mkdtempSync(join(tmpdir(), "tc-compile-"));
  try {
    const ex = join(root, "examples/prototype/bmm.ta");
    const file = existsSync(ex) ? ex : join(dir, "k.ta");
    const cpp = join(dir, "out.cpp");
    const r = spawnSync(process.execPath, [join(root, "bin/tensorcore.js"), "compile", file, "-o", cpp, "--main"], { encoding: "utf8" });
    assert.is(r.status, 0, r.stderr);
    const code = readFileSync(cpp, "utf8");
    assert.match(code, /int main\(\)/);
    assert.match(code, /TC_EXPORT int32_t tc_entry_0/);
    if (spawnSync("g++", ["--version"]).status !== 0) return;
    execFileSync("g++", ["-std=c++17", "-O1", "-fopenmp", "-ffp-contract=off", "-w", "-I/usr/include/eigen3", cpp, "-o", join(dir, "prog")]);
    const out = execFileSync(join(dir, "prog"), { cwd: dirname(file), encoding: "utf8" });
    const interp = JSON.parse(execFileSync(process.execPath, [join(root, "bin/tensorcore.js"), "run", file, "--json", "--backend", "interp"], { encoding: "utf8" }));
    assert.equal(out.trim().split("\n").filter((l) => l), interp.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
