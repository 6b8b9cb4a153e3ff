// cli/progress.ts: a redrawn line on a terminal, one plain line per step otherwise, and
// python-ref's step lines recognised.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseStepLine, Progress } from "../cli/progress.js";

function sink(isTTY: boolean, columns?: number) {
  const out: string[] = [];
  return { out, stream: { isTTY, columns, write: (s: string) => out.push(s) } };
}

test("not a terminal: one line per step, messages as they are", () => {
  const { out, stream } = sink(false);
  const p = new Progress(stream);
  p.step("convert", 1, 4, "loading");
  p.status("[eigen] compiling");
  p.log("warning: slow");
  p.end();
  assert.equal(out, ["[convert 1/4] loading\n", "[eigen] compiling\n", "warning: slow\n"]);
});

test("terminal: the status line is redrawn in place, a bar for counted steps, kept lines go above it", () => {
  const { out, stream } = sink(true);
  let t = 0;
  const p = new Progress(stream, true, () => t);
  p.step("export", 1, 4, "loading");
  t = 2500; // 2.5 s later the clock shows on the next redraw
  p.line("a result");
  p.step("export", 4, 4, "done");
  p.end();
  assert.equal(out, [
    "\r\x1b[K[export] █████░░░░░░░░░░░░░░░ 1/4 loading",
    "\r\x1b[Ka result\n",
    "\r\x1b[K[export] █████░░░░░░░░░░░░░░░ 1/4 loading (3 s)",
    "\r\x1b[K[export] ████████████████████ 4/4 done",
    "\n",
  ]);
});

test("terminal: a line longer than the terminal is cut to fit", () => {
  const { out, stream } = sink(true, 12);
  const p = new Progress(stream, true, () => 0);
  p.status("0123456789abcdef");
  p.end();
  assert.equal(out[0], "\r\x1b[K0123456789…");
});

test("python-ref's progress lines are parsed; other lines are not", () => {
  assert.equal(parseStepLine("[convert 2/5] converting 148 weights to f32"), { task: "convert", done: 2, total: 5, label: "converting 148 weights to f32" });
  assert.is(parseStepLine("[eigen] compiled 3 kernels in 1.0 s"), undefined);
  assert.is(parseStepLine("error: [convert 2/5] x"), undefined);
});

test.run();
