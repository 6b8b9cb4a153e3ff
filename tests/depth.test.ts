// Deep programs: one nesting limit (compiler/depth.ts) for expressions, batch loops and kernel
// calls together. Generated programs just under it run on both back ends with the hand-derived
// result; just over it, or far over it (100 000 terms, parentheses, loops), both back ends refuse
// them with the same located diagnostic, quickly, and never with "internal error" or a stack
// overflow.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { DiagnosticError } from "../compiler/diagnostics.js";
import { MAX_NESTING } from "../compiler/depth.js";
import { SourceFile } from "../compiler/source.js";
import { createExecutor } from "../backends/index.js";
import { runProgram } from "../backends/run-program.js";
import { Session } from "../runtime/session.js";
import { toNumbers } from "../runtime/tensor.js";

const T = "type V = Tensor<f32, {4}>;\n";
const LIMIT_TEXT = `nested deeper than ${MAX_NESTING} levels`;
const backends = { interp: await createExecutor("interp"), eigen: await createExecutor("eigen") };

/** Run on one back end: the entry kernel's x after the run, or the error message. */
async function outcome(backend: keyof typeof backends, src: string): Promise<{ x?: number[]; error?: string }> {
  try {
    const r = await runProgram([new SourceFile("d.ta", src)], backends[backend], { fill: 1 });
    const x = r.params.get("x");
    return { x: x ? toNumbers(x) : undefined };
  } catch (e) {
    if (!(e instanceof DiagnosticError)) throw e; // a stack overflow or a TypeError fails the test
    return { error: e.message };
  }
}

/** Both back ends: the same acceptance and the same message. */
async function both(src: string): Promise<{ x?: number[]; error?: string }> {
  const a = await outcome("interp", src);
  const b = await outcome("eigen", src);
  assert.equal(b, a, "the back ends disagree");
  if (a.error) assert.not.match(a.error, /internal error|Maximum call stack/);
  return a;
}

// `x = x + x + ... + x` with `terms` additions is a tree `terms + 1` deep (a leaf counts 1).
const chain = (terms: number) => `kernel k(V x) { x = x${" + x".repeat(terms)}; }\n`;

test("a chain as deep as the limit runs on both back ends; one more term is a located error", async () => {
  // x = 1 everywhere, plus itself `terms` times: 1 + terms
  const ok = await both(T + chain(MAX_NESTING - 1));
  assert.equal(ok.x, [1000, 1000, 1000, 1000]);
  const over = await both(T + chain(MAX_NESTING));
  // the error points at the start of the value: line 2, column 21 (`kernel k(V x) { x = ` is 20 characters)
  assert.match(over.error!, `d.ta:2:21: error: expression ${LIMIT_TEXT}`);
});

test("far too deep: long chains, parentheses, unary minus, nested calls and loops are refused in seconds", async () => {
  const n = 100_000;
  const cases: [string, string][] = [
    ["chain", T + chain(n)],
    ["product chain", T + `kernel k(V x) { x = x${" * x".repeat(n)}; }\n`],
    ["top-level chain", T + `V y;\ny = 1;\ny = y${" + y".repeat(n)};\n`],
    ["parentheses", T + `kernel k(V x) { x = ${"(".repeat(n)}x + 1${")".repeat(n)}; }\n`],
    ["unary minus", T + `kernel k(V x) { x = ${"-".repeat(n)}x; }\n`],
    ["nested calls", T + `kernel k(V x) { x = ${"EXP(".repeat(n)}x${")".repeat(n)}; }\n`],
    ["nested loops", T + `kernel k(V x) { ${"batch(i = 0..1) { ".repeat(n)}x[0] = 1; ${"} ".repeat(n)}}\n`],
    ["unbalanced", T + `kernel k(V x) { x = ${"(".repeat(n)}x; }\n`],
  ];
  for (const [what, src] of cases) {
    const t0 = Date.now();
    const r = await both(src);
    assert.ok(r.error, `${what}: accepted`);
    assert.match(r.error!, /^d\.ta:\d+:\d+: error: /, `${what}: not located: ${r.error}`);
    if (what !== "unbalanced") assert.match(r.error!, LIMIT_TEXT, what);
    assert.ok(Date.now() - t0 < 10_000, `${what}: took ${Date.now() - t0} ms`);
  }
});

test("kernel calls add their callee's nesting: a call chain at the limit runs, one level more does not", async () => {
  // k0's statement is `depth0` deep; each k_i calls k_{i-1} (one more level); the top-level call
  // of k10 adds one more: total 10 + 1 + depth0.
  const prog = (depth0: number) => {
    let s = T + `kernel k0(V x) { x = x${" + x".repeat(depth0 - 1)}; }\n`;
    for (let i = 1; i <= 10; i++) s += `kernel k${i}(V x) { k${i - 1}(x); }\n`;
    return s + "V x;\nx = 1;\nk10(x);\nkernel main(V x) { k10(x); }\n";
  };
  const ok = await both(prog(MAX_NESTING - 11));
  // main's x: filled with 1, then k0 makes it x * (1 + terms) = depth0
  assert.equal(ok.x, new Array(4).fill(MAX_NESTING - 11));
  const over = await both(prog(MAX_NESTING - 10));
  // the first call past the limit: line 15 `k10(x);` at top level (line 1 is the type, 2..12 the kernels, 13-14 x)
  assert.match(over.error!, `d.ta:15:1: error: kernel calls (with the loops and expressions of 'k10') ${LIMIT_TEXT}`);
});

test("a kernel from an earlier cell counts too: calling it inside a loop passes the limit", () => {
  const s = new Session();
  s.define(s.check([new SourceFile("c1", T + chain(MAX_NESTING - 2) + "V x;\n")])); // k is MAX_NESTING - 1 deep
  s.check([new SourceFile("c2", "k(x);\n")]); // one call: exactly the limit
  assert.throws(() => s.check([new SourceFile("c3", "batch(i = 0..1) {\n  k(x);\n}\n")]),
    (e: Error) => e instanceof DiagnosticError && e.message.startsWith(`c3:2:3: error: kernel calls (with the loops and expressions of 'k') ${LIMIT_TEXT}`));
});

test.run();
