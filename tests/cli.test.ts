// The command line, spawned: exit codes, --json, --kernel, --inputs, the default weights/
// folder, 0.5 for unbound parameters, and errors on stderr without stack traces.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { examplePath, runCli } from "./helpers/examples.js";

const dir = mkdtempSync(join(tmpdir(), "tc-cli-"));
const PROG = `type V = Tensor<f32, {3}>;
type I = Tensor<int32, {2}>;
kernel first(V a) { a = a * 2; REDUCE(a); }
kernel second(V w, I n) { w = w + 1; n = n * 3; REDUCE(w); }
`;
const prog = join(dir, "prog.ta");
writeFileSync(prog, PROG);
mkdirSync(join(dir, "weights"));
writeFileSync(join(dir, "weights", "w.bin"), Buffer.from(new Float32Array([1, 2, 3]).buffer));
mkdirSync(join(dir, "other"));
writeFileSync(join(dir, "other", "w.bin"), Buffer.from(new Float32Array([10, 20, 30]).buffer));
writeFileSync(join(dir, "other", "n.bin"), Buffer.from(new Int32Array([4, -5]).buffer));
const noStack = (s: string) => assert.not.match(s, /\n\s+at .*:\d+:\d+\)?/);

test("check: ok exits 0, errors exit 1 on stderr with file:line:col and a caret", () => {
  const good = runCli(["check", prog]);
  assert.is(good.status, 0);
  assert.match(good.stdout, /prog\.ta: ok/);
  const bad = join(dir, "bad.ta");
  writeFileSync(bad, "type V = Tensor<f32, {3}>;\nkernel k(V a) {\n  a = b;\n  a = a + c;\n}\n");
  const r = runCli(["check", bad]);
  assert.is(r.status, 1);
  assert.is(r.stdout, "");
  assert.is(r.stderr, `${bad}:3:7: error: undefined name 'b' (did you mean 'a'?)\n    a = b;\n        ^\n${bad}:4:11: error: undefined name 'c' (did you mean 'a'?)\n    a = a + c;\n            ^\n`);
  noStack(r.stderr);
});

test("run: the last kernel by default, parameters from weights/ beside the file", () => {
  const r = runCli(["run", prog, "--json"]);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out, {
    stdout: ["9"],
    params: { w: { dtype: "f32", shape: [3], data: [2, 3, 4] }, n: { dtype: "int32", shape: [2], data: [0, 0] } }, // n: 0.5 rounds to even, 0
  });
});

test("run: --kernel picks the entry, unbound parameters are 0.5, plain output prints lines", () => {
  const r = runCli(["run", prog, "--kernel", "first"]);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stdout, "3\n");
  const j = JSON.parse(runCli(["run", prog, "--kernel=first", "--json"]).stdout);
  assert.equal(j.params.a.data, [1, 1, 1]);
});

test("run: --inputs DIR replaces weights/", () => {
  const r = runCli(["run", prog, "--inputs", join(dir, "other"), "--json"]);
  assert.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.stdout, ["63"]);
  assert.equal(out.params.n.data, [12, -15]);
});

test("run: a top-level-only program prints its lines and has no params", () => {
  const top = join(dir, "top.ta");
  writeFileSync(top, "type S = Tensor<f32, {2}>;\nS x = 1.25;\nREDUCE(x);\n");
  assert.equal(JSON.parse(runCli(["run", top, "--json"]).stdout), { stdout: ["2.5"], params: {} });
});

test("run: --json renders infinities and NaN as strings", () => {
  const f = join(dir, "inf.ta");
  writeFileSync(f, "type V = Tensor<f32, {3}>;\nkernel k(V v) { v[0] = INF; v[1] = -INF; v[2] = INF - INF; }\n");
  assert.equal(JSON.parse(runCli(["run", f, "--json"]).stdout).params.v.data, ["Infinity", "-Infinity", "NaN"]);
});

test("errors: usage, missing files, unknown kernel, bad weights, run-time faults — exit 1, no stack", () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /^tensorcore: unknown command 'frobnicate'/],
    [["run"], /^tensorcore: no input file/],
    [["run", join(dir, "nope.ta")], /nope\.ta: no such file/],
    [["run", prog, "--bogus"], /^tensorcore: unknown option '--bogus'/],
    [["run", prog, "--kernel"], /^tensorcore: option '--kernel' needs a value/],
    [["run", prog, "--kernel", "third"], /^tensorcore: no kernel named 'third' \(kernels: first, second\)/],
    [["run", examplePath("errors/runtime_lookup")], /runtime_lookup\.ta:10:3: error: LOOKUP index 7 is out of range/],
  ];
  for (const [args, re] of cases) {
    const r = runCli(args);
    assert.is(r.status, 1, args.join(" "));
    assert.match(r.stderr, re);
    noStack(r.stderr);
  }
  mkdirSync(join(dir, "short"));
  writeFileSync(join(dir, "short", "w.bin"), Buffer.alloc(6));
  const r = runCli(["run", prog, "--inputs", join(dir, "short")]);
  assert.is(r.status, 1);
  assert.match(r.stderr, /prog\.ta:4:17: error: .*w\.bin: 'w' holds 6 bytes, but a f32 tensor of shape \{3\} needs 12 bytes/);
  noStack(r.stderr);
});

test("help exits 0 and lists the commands", () => {
  const r = runCli(["--help"]);
  assert.is(r.status, 0);
  assert.match(r.stdout, /tensorcore check FILE\.ta/);
  assert.match(r.stdout, /tensorcore run FILE\.ta/);
});

test.run();
