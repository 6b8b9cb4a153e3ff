// A bounded pass of the fuzz harness (tests/fuzz/harness.ts): seconds, fixed seeds. The long run
// is bench/fuzz.ts; its figures are in docs/security.md.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { formatCounts, fuzzFolders, fuzzFrames, fuzzPrograms } from "./fuzz/harness.js";

const report = (fs: { what: string; input: string; error: string }[]) =>
  fs.slice(0, 3).map((f) => `${f.what}\n${f.input.slice(0, 400)}\n---\n${f.error.slice(0, 800)}`).join("\n=====\n");

test("programs: mutated and random, the front end and the interpreter; a sample on the compiled back end agrees", async () => {
  const r = await fuzzPrograms({ seed: 0x5afe, ms: 3000, eigenSample: 2 });
  if (process.env.FUZZ_STATS) console.log(formatCounts(r.counts));
  assert.ok(r.counts.checked >= 100, formatCounts(r.counts));
  assert.ok(r.counts.eigen >= 1, formatCounts(r.counts));
  assert.is(r.failures.length, 0, report(r.failures));
});

test("model folders: mutations of the embedded model refused with a message, no crash, in bounded time", () => {
  const r = fuzzFolders({ seed: 0x5afe, cases: 4, timeoutMs: 60_000 });
  if (process.env.FUZZ_STATS) console.log(formatCounts(r.counts));
  assert.is(Object.values(r.counts).reduce((a, b) => a + b, 0), 4);
  assert.is(r.failures.length, 0, report(r.failures));
});

test("kernel frames: random and mutated frames through decode and the handlers: answered or dropped, nothing thrown", async () => {
  const r = await fuzzFrames({ seed: 0x5afe, ms: 1500 });
  if (process.env.FUZZ_STATS) console.log(formatCounts(r.counts));
  assert.ok(r.counts.frames >= 200 && r.counts.handled >= 20 && r.counts.dropped >= 20, formatCounts(r.counts));
  assert.is(r.failures.length, 0, report(r.failures));
});

test.run();
