// Fuzzing the front end and the interpreter with a fixed seed: random and mutated programs from
// the fuzz harness (tests/fuzz/harness.ts, which also drives both back ends, model folders and
// kernel frames)
// (the examples' text with tokens deleted, duplicated, swapped or replaced, random bytes, huge
// numbers, deep nesting, unbalanced braces). Every failure must be a DiagnosticError (which
// includes RuntimeFault); anything else — a TypeError, a RangeError, a stack overflow — is a bug.
// Runs are bounded: programs with large tensors are only checked, and runs get a step budget.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { checkSources } from "../compiler/checker.js";
import { DiagnosticError } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { elementCount } from "../compiler/types.js";
import { Session } from "../runtime/session.js";
import { bindParam } from "../runtime/weights.js";
import { corpus as examplesCorpus, mutate, randomProgram } from "./fuzz/harness.js";
import { createExecutor } from "../backends/index.js";
import { entryKernel } from "../compiler/entry.js";
import { seededRandom as rng } from "../models/sampling.js";

const SEED = 0x7e45c0de;
const MAX_ELEMENTS = 4096; // per tensor, for programs that are run
const MAX_STEPS = 5000;
const TIME_BUDGET_MS = 7000;
const interp = await createExecutor("interp", { maxSteps: MAX_STEPS });


const corpus = examplesCorpus();

interface Failure { what: string; program: string; error: string }

/** Static estimate: every tensor the program declares is small enough to run. */
function smallEnough(p: IR.Program): boolean {
  const vars = [...p.sessionVars, ...p.kernels.flatMap((k) => [...k.params, ...k.locals])];
  return vars.every((v) => elementCount(v.type.shape) <= MAX_ELEMENTS) && [...p.types.values()].every((t) => elementCount(t.shape) <= MAX_ELEMENTS);
}

function tryProgram(text: string, failures: Failure[], stats: { checked: number; ran: number; faults: number }): void {
  const file = new SourceFile("fuzz.ta", text);
  let program: IR.Program;
  try {
    const { program: p, diagnostics } = checkSources([file]);
    stats.checked++;
    if (diagnostics.hasErrors) {
      // formatting every diagnostic must work too (positions, carets)
      new DiagnosticError(diagnostics.items).message.length;
      return;
    }
    program = p;
  } catch (e) {
    failures.push({ what: "check", program: text, error: (e as Error).stack ?? String(e) });
    return;
  }
  if (!smallEnough(program)) return;
  try {
    stats.ran++;
    const session = new Session();
    session.define(program);
    const io = { print: () => {} };
    interp.runTopLevel(program, session.store, io);
    const k = entryKernel(program);
    if (k) interp.runKernel(k, k.params.map((p) => bindParam(p.name, p.type, undefined, 0.5, p.span)), io);
  } catch (e) {
    if (e instanceof DiagnosticError) { stats.faults++; new DiagnosticError(e.diagnostics).message.length; return; }
    failures.push({ what: "run", program: text, error: (e as Error).stack ?? String(e) });
  }
}

test("the step budget stops a long run with a RuntimeFault", async () => {
  const text = "type V = Tensor<f32, {2}>;\nV x;\nbatch(i = 0..2000000000) { x = x + 1; }";
  const session = new Session();
  const program = session.check([new SourceFile("budget.ta", text)]);
  session.define(program);
  const budget = await createExecutor("interp", { maxSteps: 1000 });
  assert.throws(() => budget.runTopLevel(program, session.store, { print: () => {} }),
    (e: Error) => e instanceof DiagnosticError && /budget\.ta:3:1: error: the run exceeded its budget of 1000 steps/.test(e.message));
});

test("random and mutated programs fail only with diagnostics", () => {
  const r = rng(SEED);
  const failures: Failure[] = [];
  const stats = { checked: 0, ran: 0, faults: 0 };
  const start = Date.now();
  // every example runs as is (the baseline), then mutations
  for (const text of corpus) tryProgram(text, failures, stats);
  let i = 0;
  for (; i < 20000 && Date.now() - start < TIME_BUDGET_MS; i++) {
    const text = r() < 0.15 ? randomProgram(r) : mutate(corpus[Math.floor(r() * corpus.length)], r);
    tryProgram(text, failures, stats);
  }
  if (process.env.FUZZ_STATS) console.log(`fuzz: ${i} programs, ${stats.checked} checked, ${stats.ran} ran, ${stats.faults} run-time faults`);
  const report = failures.slice(0, 3).map((f) => `${f.what} failed on:\n${f.program}\n---\n${f.error}`).join("\n=====\n");
  assert.ok(stats.checked >= 2000, `only ${stats.checked} programs in the time budget`);
  assert.ok(stats.ran > 100, `only ${stats.ran} programs ran`);
  assert.is(failures.length, 0, `${failures.length} of ${i} programs crashed:\n${report}`);
});

test.run();
