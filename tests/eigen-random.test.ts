// Differential test: 220 random well-typed programs (tests/gen/random-programs.ts, fixed seed),
// interpreter vs eigen. All programs are compiled into two translation units (built in parallel,
// cached), in exact-MMUL mode so that the comparison is bitwise up to libm-vs-V8 rounding of
// exp/log/tanh (see docs/compiler.md); every batch loop that may run in parallel does.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkSource } from "../compiler/checker.js";
import { formatDiagnostics } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { Executor } from "../runtime/executor.js";
import { generatePrograms, INTRINSIC_COVERAGE } from "./gen/random-programs.js";
import { cloneViews, compareRuns, eigenFor, makeInputs, runEigen, runInterp } from "./gen/compare.js";

const SEED = 20240611, COUNT = 220;
const progs = generatePrograms(SEED, COUNT);
const checked = progs.map((p) => {
  const { program, diagnostics } = checkSource(p.name, p.source);
  return { p, program, errors: diagnostics.hasErrors ? formatDiagnostics(diagnostics.items) : undefined };
});

let be: Executor;
const entryOf = (c: (typeof checked)[number]): IR.Kernel => c.program.kernelByName.get(c.p.entry)!;

test.before(async () => {
  const ok = checked.filter((c) => !c.errors);
  const half = Math.ceil(ok.length / 2);
  const t0 = performance.now();
  // One executor, two translation units built at once (one per core).
  be = await eigenFor([], { emit: { exactMmul: true, parallelThreshold: 0, optLevel: 1 }, log: (m) => console.log(m) });
  await Promise.all([ok.slice(0, half), ok.slice(half)].map((part) => be.prepare(part.map(entryOf))));
  console.log(`  [eigen-random] ${ok.length} programs built (or loaded from the cache) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
});

test("every generated program type-checks", () => {
  const bad = checked.filter((c) => c.errors);
  assert.is(bad.length, 0, bad.slice(0, 2).map((c) => `${c.p.name}:\n${c.errors}\n${c.p.source}`).join("\n"));
});

test("the generator covers every precision and intrinsic", () => {
  const all = new Set<string>();
  for (const p of progs) for (const f of p.features) all.add(f);
  const need = ["f32", "f16", "bf16", "int8", "int32", ...Object.values(INTRINSIC_COVERAGE).flat(), "op+", "op-", "op*", "op/", "op%f", "int/", "int%",
    "window-dynamic", "window-static", "batch-static", "batch-B", "batch-dynamic", "call", "call-in-loop", "float-to-int", "special-literal", "local-init"];
  const missing = need.filter((f) => !all.has(f));
  assert.equal(missing, []);
});

for (let i = 0; i < COUNT; i++) {
  test(`random program ${i}: interp and eigen agree`, () => {
    const c = checked[i];
    if (c.errors) assert.unreachable(c.errors);
    const k = entryOf(c);
    const inputs = makeInputs(k, c.p.init, SEED + i);
    const a = runInterp(k, cloneViews(inputs));
    const b = runEigen(be, k, cloneViews(inputs));
    const diff = compareRuns(a, b, k.params.map((p) => p.name));
    if (diff) assert.unreachable(`${c.p.name}: ${diff}\n${c.p.source}`);
  });
}

test.run();
