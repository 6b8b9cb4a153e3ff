// The example programs (examples/**) against expectations derived independently: numpy
// re-implementations (python-ref/tools/expected_examples.py → tests/fixtures/examples) for the
// runnable ones, and the `// expect:` diagnostics written in each examples/errors/*.ta.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DiagnosticError } from "../compiler/diagnostics.js";
import { INTRINSIC_LIST } from "../compiler/intrinsics.js";
import { SourceFile } from "../compiler/source.js";
import { Session } from "../runtime/session.js";
import {
  compareError, compareResult, examplePath, ExpectedError, ExpectedRun, expectedFor, fixturePath, fixturesDir, listExamples, runCli, runExample,
} from "./helpers/examples.js";

const runnable = listExamples("run");
const errors = listExamples("error");

test("there are 20-40 examples in groups, each with an expectation", () => {
  const all = listExamples();
  assert.ok(all.length >= 20 && all.length <= 40, `${all.length} examples`);
  for (const g of ["prototype", "basics", "precision", "nn", "errors"]) assert.ok(all.some((n) => n.startsWith(g + "/")), `group ${g}`);
  for (const n of runnable) assert.ok(existsSync(fixturePath(n)), `no fixture for ${n}; run python-ref/tools/expected_examples.py`);
  for (const f of readdirSync(fixturesDir()).filter((f) => f.endsWith(".expected.json"))) {
    assert.ok(runnable.includes(f.replace(".expected.json", "").replace(/__/g, "/")), `fixture ${f} has no example`);
  }
  for (const n of errors) assert.ok((expectedFor(n) as ExpectedError).diagnostics.length > 0, `${n} has no // expect: line`);
});

for (const name of runnable) {
  test(`example ${name} matches numpy`, async () => {
    const out = await runExample(name, "interp");
    if (!out.ok) return assert.unreachable(`${name} failed:\n${out.error}`);
    const problems = compareResult(out.result, expectedFor(name) as ExpectedRun);
    assert.equal(problems, [], problems.join("\n"));
  });
}

for (const name of errors) {
  test(`example ${name} reports its errors`, async () => {
    const expected = expectedFor(name) as ExpectedError;
    const out = await runExample(name, "interp");
    assert.equal(compareError(name, out, expected), []);
    // Static errors are found by checking; run-time faults only when the program runs.
    const file = examplePath(name);
    let checked = true;
    try { new Session().check([new SourceFile(file, readFileSync(file, "utf8"))]); } catch (e) { assert.instance(e, DiagnosticError); checked = false; }
    assert.is(checked, expected.phase === "runtime");
  });
}

test("the CLI prints what the library computes (spawned for a few examples)", async () => {
  for (const name of ["prototype/bmm", "precision/int8_mmul", "nn/attention", "basics/top_level"]) {
    const cli = runCli(["run", examplePath(name), "--json", "--backend", "interp"]);
    if (!cli.ok) return assert.unreachable(cli.error);
    const lib = await runExample(name, "interp");
    if (!lib.ok) return assert.unreachable(lib.error);
    assert.equal(cli.result, lib.result, name);
    assert.equal(compareResult(cli.result, expectedFor(name) as ExpectedRun), []);
  }
});

test("the prototype's bmm prints 6", () => {
  const cli = runCli(["run", examplePath("prototype/bmm"), "--backend", "interp"]);
  assert.is(cli.status, 0);
  assert.is(cli.stdout, "6\n");
});

test("the CLI's check exits 1 on a static error example and 0 on a run-time one", () => {
  assert.is(runCli(["check", examplePath("errors/shapes")]).status, 1);
  assert.is(runCli(["check", examplePath("errors/runtime_window")]).status, 0);
});

test("runtime error examples name the failing line and print no stack trace", () => {
  for (const name of errors.filter((n) => n.startsWith("errors/runtime_"))) {
    const r = runCli(["run", examplePath(name), "--backend", "interp"]);
    assert.is(r.status, 1);
    assert.not.match(r.stderr, /\bat .*\.js:\d+/);
    assert.match(r.stderr, /:\d+:\d+: error: /);
    assert.match(r.stderr, /\n\s+\^/); // the caret line
  }
});

test("every weights file is bound by an example of its group", () => {
  const used = new Set<string>();
  for (const name of runnable) for (const p of Object.keys((expectedFor(name) as ExpectedRun).params)) used.add(`${dirname(name)}/${p}`);
  for (const g of ["prototype", "basics", "precision", "nn"]) {
    const dir = join(dirname(examplePath(`${g}/x`)), "weights");
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir)) assert.ok(used.has(`${g}/${f.replace(/\.(bin|npy)$/, "")}`), `${g}/weights/${f} is not a parameter of any example`);
  }
});

test("the examples cover every intrinsic, every precision, space and layout", () => {
  const text = listExamples("run").map((n) => readFileSync(examplePath(n), "utf8").replace(/\/\/.*$/gm, "")).join("\n");
  for (const i of INTRINSIC_LIST) assert.ok(new RegExp(`\\b${i.name}\\(`).test(text), `no example uses ${i.name}`);
  for (const p of ["f32", "f16", "bf16", "int8", "int32"]) assert.ok(new RegExp(`Tensor<${p},`).test(text), `no ${p} tensor`);
  for (const s of ["Global", "L1", "Shared", "TileReg"]) assert.ok(text.includes(s), `no ${s} tensor`);
  for (const l of ["RowMajor", "ColMajor", "Tiled("]) assert.ok(text.includes(l), `no ${l} layout`);
  for (const k of ["GELU", "SILU", "GELU_ERF", "RELU"]) assert.ok(new RegExp(`ACT\\([^)]*\\b${k}\\)`).test(text) || k === "RELU", `ACT by name ${k}`);
  assert.ok(/\+: /.test(text) && /batch\(/.test(text) && /CAUSAL_MASK/.test(text));
});

test.run();
