// The language side in-process (no worker, no sockets): cells, errors, displays, magics,
// completion and inspection.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { definitionsOnly, LanguageEngine } from "../kernel/engine.js";
import { parseCell, identifierFor } from "../kernel/magics.js";
import { textPlain, formatNumber, PLOTLY_MIME } from "../kernel/display.js";
import { OutputEvent } from "../kernel/protocol.js";
import { allocTensor } from "../runtime/tensor.js";
import { EMBEDDED_MODEL } from "../models/causal-lm.js";

function engine() { return new LanguageEngine({ interrupt: new Int32Array(new SharedArrayBuffer(4)) }); }

async function run(e: LanguageEngine, code: string, count = 1) {
  const events: OutputEvent[] = [];
  const outcome = await e.execute({ code, user_expressions: {}, execution_count: count }, (ev) => events.push(ev));
  const stdout = events.filter((x) => x.kind === "stream").map((x) => (x as { text: string }).text).join("");
  const displays = events.filter((x) => x.kind === "display") as Extract<OutputEvent, { kind: "display" }>[];
  return { outcome, events, stdout, displays };
}

test("cells share definitions; a cell may redefine a name; REDUCE prints", async () => {
  const e = engine();
  const a = await run(e, "type V = Tensor<f32, {4}>;\nconst N = 4;\nkernel inc(V v) { v = v + 1; }\nV x;\nx = 1.25;");
  assert.is(a.outcome.status, "ok");
  const b = await run(e, "inc(x);\nREDUCE(x);\nx");
  assert.is(b.stdout, "9\n");
  assert.match(b.outcome.result!.data["text/plain"] as string, "[2.25, 2.25, 2.25, 2.25]");
  const c = await run(e, "type V = Tensor<f32, {2}>;\nV x;\nx = 3;\nx * 2");
  assert.match(c.outcome.result!.data["text/plain"] as string, "Tensor<f32, {2}>\n[6., 6.]");
  const d = await run(e, "1 + 1");
  assert.is(d.outcome.result!.data["text/plain"], "2");
});

test("magics refuse what they would misread: %reset x resets nothing, extra words and repeated options are named, %generate's and %profile's counts are checked as the CLI checks them", async () => {
  const e = engine();
  await run(e, "type V = Tensor<f32, {2}>;\nV x;\nx = 3;");
  for (const [code, message] of [
    ["%reset x", "usage: %reset (it takes no arguments and forgets every definition and tensor; nothing was reset)"],
    ["%who x", "usage: %who (it takes no arguments: it lists everything)"],
    ["%generate --max-new-tokens 0 hi", "--max-new-tokens must be a whole number, at least 1 (got 0)"],
    ["%generate --max-new-tokens 1e20 hi", "--max-new-tokens must be a whole number, at least 1 (got 100000000000000000000)"],
    ["%generate --top-k 2.5 hi", "--top-k must be a whole number, 0 or more (got 2.5)"],
    ["%generate --top-p 2 hi", "--top-p must be in (0, 1] (got 2)"],
    ["%generate --temperature 0 hi", "--temperature must be positive (got 0)"],
    ["%load models/embedded w extra", "usage: %load DIR [PREFIX] [--no-verify]"],
    ["%generate --system x hi", "--system needs --chat (a system message is part of a chat)"],
    ["%generate --chat hi", `${EMBEDDED_MODEL} has no chat template (neither chat_template.jinja nor "chat_template" in tokenizer_config.json): it is not a chat model, so give the prompt without --chat`],
    ["%heatmap x --vs x --vs x", "--vs is given twice"],
    ["%compare x x --rtol 1e400", "--rtol needs a finite non-negative number, got '1e400'"],
    ["%profile --model", "--model needs a folder (usage: %profile --model DIR [--prompt N] [--tokens N])"],
    ["%profile --model models/embedded --prompts 4", "unknown option '--prompts' (usage: %profile --model DIR [--prompt N] [--tokens N])"],
    ["%profile --model models/embedded --tokens 1e30", "--tokens needs a positive whole number, got '1e30'"],
    ["%profile --model models/embedded --prompt 200", "--prompt 200 and --tokens 16 need 216 positions; the model's context has 128"],
  ]) {
    const r = await run(e, code);
    assert.is(r.outcome.status, "error", code);
    assert.is(r.outcome.error!.ename, "MagicError", code);
    assert.is(r.outcome.error!.evalue, message, code);
  }
  assert.match((await run(e, "x")).outcome.result!.data["text/plain"] as string, "[3., 3.]"); // still defined
});

test("%_crash exists only in a kernel started for tests; %run refuses a file over 16 MiB before reading it", async () => {
  const e = engine();
  const saved = process.env.TENSORCORE_TEST_HOOKS;
  delete process.env.TENSORCORE_TEST_HOOKS;
  try {
    const r = await run(e, "%_crash");
    assert.is(r.outcome.status, "error");
    assert.match(r.outcome.error!.evalue, "_crash");
  } finally {
    if (saved !== undefined) process.env.TENSORCORE_TEST_HOOKS = saved;
  }
  const dir = mkdtempSync(join(tmpdir(), "tc-run-"));
  try {
    const big = join(dir, "big.ta");
    writeFileSync(big, "");
    truncateSync(big, (16 << 20) + 1); // sparse: nothing is written
    const r = await run(e, `%run ${big}`);
    assert.is(r.outcome.error!.ename, "MagicError");
    assert.match(r.outcome.error!.evalue, `${(16 << 20) + 1} bytes, more than a .ta source may have`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("errors show the cell's line and a caret; line numbers count magic lines", async () => {
  const e = engine();
  const r = await run(e, "%who\ntype V = Tensor<f32, {2}>;\nV y;\ny = q;", 7);
  assert.is(r.outcome.status, "error");
  assert.is(r.outcome.error!.ename, "CompileError");
  assert.match(r.outcome.error!.traceback[0], /^cell\[7\]:4:5: error: undefined name 'q'/);
  assert.equal(r.outcome.error!.traceback.slice(1), ["  y = q;", "      ^"]);
  const f = await run(e, "type V = Tensor<f32, {2}>;\nV z;\nconst i = 2;\nz[i] = 1;");
  assert.is(f.outcome.error!.ename, "CompileError");
  const rt = await run(e, "type V = Tensor<f32, {2}>;\nV z;\nbatch(i = 0..3 step 1) { z[i] = 1; }");
  assert.is(rt.outcome.error!.ename, "RuntimeFault");
  assert.match(rt.outcome.error!.traceback[0], "out of range");
});

test("only a trailing expression is the result; earlier ones are display_data", async () => {
  const e = engine();
  const r = await run(e, "type V = Tensor<f32, {2}>;\nV x;\nx = 1;\nx;\nREDUCE(x);\nx + 1");
  assert.is(r.displays.length, 1);
  assert.match(r.displays[0].data["text/plain"] as string, "[1., 1.]");
  assert.match(r.outcome.result!.data["text/plain"] as string, "[2., 2.]");
  const order = r.events.map((x) => x.kind);
  assert.equal(order, ["display", "stream"]);
});

test("text/plain is numpy-like and elided when large; html has labels and stats", async () => {
  assert.is(formatNumber(1, "f32"), "1.");
  assert.is(formatNumber(0.25, "f32"), "0.25");
  assert.is(formatNumber(-Infinity, "f32"), "-inf");
  assert.is(formatNumber(1.5e-5, "f32"), "1.5e-05");
  assert.is(formatNumber(3, "int32"), "3");
  const t = allocTensor({ precision: "f32", shape: [40, 50], layout: { kind: "RowMajor" } });
  for (let i = 0; i < 2000; i++) t.data[i] = i;
  const text = textPlain(t);
  assert.match(text, "Tensor<f32, {40, 50}>");
  assert.match(text, "...");
  assert.ok(text.split("\n").length < 12, text);
  const e = engine();
  const r = await run(e, "type M = Tensor<f32, {40, 50}>;\nM m;\nm = 2;\nm[0][1] = -1;\nm");
  const html = r.outcome.result!.data["text/html"] as string;
  assert.match(html, "<table");
  assert.match(html, "shape {40, 50} · f32");
  assert.match(html, "min -1. · max 2.");
  assert.match(html, "⋮");
  assert.match(html, "<th");
  assert.ok((html.match(/<tr>/g) ?? []).length <= 2 * 8 + 3, "elided rows");
});

type Fig = { data: { type: string; z: (number | null)[][]; coloraxis: string }[]; layout: Record<string, { tickvals?: number[]; ticktext?: string[] }> };

test("%heatmap and %plot: plotly JSON, an SVG drawn without plotly.js, and text; no scripts", async () => {
  const e = engine();
  await run(e, "type S = Tensor<f32, {4, 4}>;\nS s;\ns = 1;\nCAUSAL_MASK(s, 0);");
  const h = await run(e, "%heatmap SOFTMAX(s)");
  assert.is(h.outcome.status, "ok");
  const data = h.displays[0].data;
  assert.equal(Object.keys(data).sort(), ["application/vnd.plotly.v1+json", "image/svg+xml", "text/plain"]);
  const fig = data[PLOTLY_MIME] as unknown as Fig;
  assert.is(fig.data[0].type, "heatmap");
  // softmax of a causally masked row of ones: 1/(i+1) over the first i+1 keys
  assert.equal(fig.data[0].z[0], [1, 0, 0, 0]);
  assert.equal(fig.data[0].z[3], [0.25, 0.25, 0.25, 0.25]);
  assert.equal(fig.layout.xaxis.tickvals, [0, 1, 2, 3], "integer ticks");
  assert.equal(fig.layout.xaxis.ticktext, ["0", "1", "2", "3"]);
  const svg = data["image/svg+xml"] as string;
  assert.ok(svg.startsWith("<svg") && !/<script/i.test(svg), "a static SVG");
  assert.is((svg.match(/<rect [^>]*fill="#/g) ?? []).length, 16, "one cell per element");
  assert.match(svg, "tc-colorkey");
  assert.ok(JSON.stringify(data).length < 20_000, "a small figure is small");
  const p = await run(e, "type L = Tensor<f32, {8}>;\nL l;\nl = 1;\n%plot l");
  assert.is((p.displays[0].data[PLOTLY_MIME] as { data: { type: string }[] }).data[0].type, "scatter");
  assert.match(p.displays[0].data["image/svg+xml"] as string, "<path");
  const flat = await run(e, "%heatmap l");
  assert.is(flat.outcome.error!.ename, "MagicError");
  assert.match(flat.outcome.error!.evalue, "use %plot for 1-D data");
  const cube = await run(e, "type C = Tensor<f32, {2, 3, 3}>;\nC c;\nc = 1;\n%heatmap c");
  assert.match(cube.outcome.error!.evalue, "pick a 2-D slice with indexing, e.g. %heatmap c[0]");
  const slice = await run(e, "%heatmap c[1]");
  assert.is(slice.outcome.status, "ok");
});

test("%heatmap --vs: both maps on one colour scale and their difference; --labels names the positions", async () => {
  const e = engine();
  await run(e, "type M = Tensor<f32, {2, 2}>;\nM a;\nM b;\na[0][0] = 1; a[0][1] = 2; a[1][0] = 3; a[1][1] = 4;\nb = a;\nb[1][1] = 3.5;");
  const r = await run(e, '%heatmap a --vs b --labels ["The", " cat"]');
  assert.is(r.outcome.status, "ok", JSON.stringify(r.outcome.error));
  const fig = r.displays[0].data[PLOTLY_MIME] as unknown as Fig;
  assert.is(fig.data.length, 3);
  assert.is(fig.data[0].coloraxis, fig.data[1].coloraxis, "DSL and reference share a scale");
  assert.is.not(fig.data[2].coloraxis, fig.data[0].coloraxis);
  assert.equal(fig.data[2].z, [[0, 0], [0, 0.5]], "a - b");
  assert.equal(fig.layout.xaxis.ticktext, ["The", "␣cat"]);
  const svg = r.displays[0].data["image/svg+xml"] as string;
  assert.match(svg, "␣cat");
  assert.is((svg.match(/tc-colorkey/g) ?? []).length, 2, "a key for the pair, one for the difference");
  const few = await run(e, '%heatmap a --labels ["x"]');
  assert.match(few.outcome.error!.evalue, "1 labels for a 2×2 map");
  const shape = await run(e, "type N = Tensor<f32, {2, 3}>;\nN n;\n%heatmap a --vs n");
  assert.match(shape.outcome.error!.evalue, "--vs needs tensors of one shape");
  const opt = await run(e, "%heatmap a --colour red");
  assert.match(opt.outcome.error!.evalue, "unknown option '--colour'");
});

test("%compare prints one line: max-abs-diff, cosine and a pass mark", async () => {
  const e = engine();
  await run(e, "type V = Tensor<f32, {3}>;\nV a;\nV b;\na[0] = 1; a[1] = 2; a[2] = 3;\nb = a + 0.5;");
  const r = await run(e, "%compare a b");
  // by hand: |a - b| = 0.5 everywhere; cosine = 17 / sqrt(14 * 20.75) = 0.99741490
  assert.match(r.stdout, /^a vs b: max-abs-diff 5\.00e-1 · cosine 0\.9974149\d · FAIL \(atol 0\.00001, rtol 0\.0001;/);
  assert.is(r.stdout.trim().split("\n").length, 1);
  const loose = await run(e, "%compare a b --atol 0.5");
  assert.match(loose.stdout, "· PASS (atol 0.5");
  const rel = await run(e, "%compare a b --rtol 0.34");
  assert.match(rel.stdout, "PASS", "0.5 <= 1e-5 + 0.34 * 1.5");
  const same = await run(e, "%compare (a * 2) (a + a)");
  assert.match(same.stdout, "max-abs-diff 0 · cosine 1.00000000 · PASS");
  const bad = await run(e, "type W = Tensor<f32, {4}>;\nW w;\n%compare a w");
  assert.match(bad.outcome.error!.evalue, "needs one shape");
});

test("magics: %who, %display, %time, %%time, %help, %reset, %backend, unknown", async () => {
  const e = engine();
  await run(e, "type V = Tensor<f32, {3}>;\nV x;\nx = 2;");
  const w = await run(e, "%who");
  assert.match(w.stdout, /x\s+\{3\}\s+f32\s+Global\s+12 B/);
  const d = await run(e, "%display x");
  assert.match(d.displays[0].data["text/html"] as string, "x: Tensor&lt;f32, {3}&gt;");
  const t = await run(e, "%time REDUCE(x);");
  assert.match(t.stdout, /^6\nWall time: /);
  const tt = await run(e, "%%time\nx");
  assert.match(tt.stdout, "Wall time");
  assert.ok(tt.outcome.result);
  const h = await run(e, "%help");
  for (const m of ["%backend", "%time", "%who", "%reset", "%load", "%help", "%%eigen", "%heatmap"]) assert.match(h.stdout, m);
  const b = await run(e, "%backend");
  assert.match(b.stdout, "backend: interp");
  for (const [name, text] of [["SOFTMAX", "(intrinsic)"], ["Tensor", "Tensor<precision"], ["f16", "(precision)"], ["TileReg", "(memory space)"], ["Tiled", "(layout)"], ["GELU", "(activation"], ["compare", "%compare A B"], ["batch", "batch(i = start..end"]]) {
    const one = await run(e, `%help ${name}`);
    assert.match(one.stdout, text, name);
  }
  const u = await run(e, "%frob");
  assert.is(u.outcome.error!.ename, "MagicError");
  const r = await run(e, "%reset\n%who");
  assert.match(r.stdout, "no session tensors");
});

test("%backend eigen / %%eigen: compiled when available, a clear message when not", async () => {
  const e = engine();
  let available = true;
  try { await e.executor("eigen"); } catch { available = false; }
  const r = await run(e, "%%eigen\ntype V = Tensor<f32, {2}>;\nkernel twice(V v) { v = v * 2; }\nV x;\nx = 1.5;\ntwice(x);\nREDUCE(x);");
  if (available) {
    assert.is(r.outcome.status, "ok", JSON.stringify(r.outcome.error));
    assert.match(r.stdout, "6\n");
    assert.ok(r.displays.some((x) => x.update && String(x.data["text/plain"]).includes("compiled")), "the progress bar ends in place");
    assert.ok(r.displays.some((x) => String(x.data["text/plain"]).includes("compil")), "progress display");
  } else {
    assert.is(r.outcome.error!.ename, "MagicError");
    assert.match(r.outcome.error!.evalue, "Eigen back end is not available");
    const b = await run(e, "%backend eigen");
    assert.match(b.outcome.error!.evalue, "not available");
    assert.match((await run(e, "%backend")).stdout, "interp");
  }
});

test("%load binds a folder's .npy files and a manifest's tensors as session tensors, with progress", async () => {
  const dir = mkdtempSync(join(tmpdir(), "tc-load-"));
  try {
    const npy = (shape: number[], values: number[]) => {
      let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
      header = header.padEnd(118 - 1 - 10 + 10, " ") + "\n";
      const h = Buffer.alloc(10);
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(h);
      h.writeUInt16LE(header.length, 8);
      return Buffer.concat([h, Buffer.from(header, "latin1"), Buffer.from(new Float32Array(values).buffer)]);
    };
    writeFileSync(join(dir, "w.npy"), npy([2, 2], [1, 2, 3, 4]));
    const e = engine();
    const r = await run(e, `%load ${dir}\nREDUCE(w);\nw`);
    assert.is(r.outcome.status, "ok", JSON.stringify(r.outcome.error));
    assert.match(r.stdout, "loaded 1 tensor");
    assert.match(r.stdout, "10\n");
    assert.ok(r.displays.some((d) => d.displayId && d.update), "the progress bar updates in place");
    const m = join(dir, "model");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(m);
    const bytes = Buffer.from(new Float32Array([1, 1, 1, 5, 5, 5]).buffer);
    writeFileSync(join(m, "weights.bin"), bytes);
    const { createHash } = await import("node:crypto");
    const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex"); // %load verifies every tensor
    writeFileSync(join(m, "manifest.json"), JSON.stringify({ tensors: {
      "h.0.b": { file: "weights.bin", dtype: "f32", shape: [3], offset: 0, nbytes: 12, sha256: sha(bytes.subarray(0, 12)) },
      "wte": { file: "weights.bin", dtype: "f32", shape: [3], offset: 12, nbytes: 12, sha256: sha(bytes.subarray(12)) },
    } }));
    const r2 = await run(e, `%load ${m}\nREDUCE(h_0_b);\nREDUCE(wte);`);
    assert.is(r2.stdout.split("\n").slice(-3).join(","), "3,15,");
    assert.match((await run(e, "%who")).stdout, /h_0_b\s+\{3\}/);
    assert.is(identifierFor("h.0.attn.c_attn.w"), "h_0_attn_c_attn_w");
    assert.is(identifierFor("0x"), "_0x");
    const missing = await run(e, "%load /no/such/dir");
    assert.is(missing.outcome.error!.ename, "MagicError");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("completion: keywords, intrinsics, precisions, spaces, session names, magics", async () => {
  const e = engine();
  await run(e, "type Vec = Tensor<f32, {2}>;\nVec values;\nkernel vscale(Vec v) { v = v * 2; }\nconst VLEN = 2;");
  const names = (code: string, cursor = code.length) => e.complete(code, cursor).matches;
  assert.equal(names("v"), ["values", "vscale"]);
  assert.ok(names("V").includes("Vec") && names("V").includes("VLEN"));
  assert.ok(names("SOFT").includes("SOFTMAX"));
  assert.ok(names("type T = Tensor<f1").includes("f16"));
  assert.ok(names("type T = Tensor<f32, {2}, Tile").includes("TileReg"));
  assert.ok(names("ker").includes("kernel"));
  assert.equal(names("%wh"), ["%who"]);
  assert.ok(names("%%ei").includes("%%eigen"));
  const mid = e.complete("REDU(x);", 4);
  assert.equal([mid.cursor_start, mid.cursor_end], [0, 4]);
  assert.ok(mid.matches.includes("REDUCE"));
});

test("inspection: intrinsic docs, tensor summary, kernels, types, magics", async () => {
  const e = engine();
  await run(e, "type M = Tensor<f32, {2, 3}, Global>;\nM scores;\nscores = 0.5;\nkernel k(M a) { a = a + 1; }");
  const text = (code: string, cursor = code.length) => String(e.inspect(code, cursor).data["text/plain"] ?? "");
  assert.match(text("SOFTMAX", 2), "Softmax along the last axis");
  const t = text("scores");
  assert.match(t, "Tensor<f32, {2, 3}, Global, RowMajor>");
  assert.match(t, "precision f32 · space Global");
  assert.match(t, "min 0.5 · max 0.5 · mean 0.5");
  assert.match(text("REDUCE(scores)", 3), "REDUCE");
  assert.match(text("REDUCE(scores)", 7), "scores: Tensor");
  assert.match(text("k"), "kernel k(M a)");
  assert.match(text("M"), "type M = Tensor<f32, {2, 3}, Global, RowMajor>");
  assert.match(text("%load x", 3), "%load DIR");
  assert.is(e.inspect("nothing_here", 3).found, false);
});

test("user_expressions and parseCell", async () => {
  const e = engine();
  await run(e, "type V = Tensor<f32, {2}>;\nV x;\nx = 1;");
  const r = await e.execute({ code: "x = 2;", user_expressions: { a: "x + 1", b: "nope" } }, () => undefined);
  const ue = r.user_expressions as Record<string, { status: string; data?: Record<string, string> }>;
  assert.is(ue.a.status, "ok");
  assert.match(ue.a.data!["text/plain"], "[3., 3.]");
  assert.is(ue.b.status, "error");
  const p = parseCell("%%time\nx = 1;\n%who\nkernel k() {\n  a = b\n  % c;\n}\ny");
  assert.equal(p.cellMagics, [{ name: "time", args: "" }]);
  assert.equal(p.segments.map((s) => [s.kind, s.line]), [["code", 1], ["magic", 2], ["code", 3]]);
});

test("redeclaring a tensor frees the old one: 300 redeclarations of 1 MiB keep memory bounded; %who shows it", async () => {
  const e = engine();
  const MiB = 1 << 20;
  const cell = "type Big = Tensor<f32, {262144}>;\nBig big;\nbig = 1;"; // 262144 * 4 B = 1 MiB
  const base = process.memoryUsage().arrayBuffers;
  let peak = 0;
  for (let i = 0; i < 300; i++) {
    assert.is((await run(e, cell, i)).outcome.status, "ok");
    assert.is(e.session.store.bytes(), MiB, `after ${i + 1} redeclarations`);
    peak = Math.max(peak, process.memoryUsage().arrayBuffers - base);
  }
  // a leak would hold 300 MiB; freed buffers are reclaimed by the GC as external memory grows
  assert.ok(peak < 150 * MiB, `array buffers grew by ${(peak / MiB).toFixed(0)} MiB`);
  const w = await run(e, "%who");
  assert.match(w.stdout, /big\s+\{262144\}\s+f32\s+Global\s+1\.0 MiB/);
  assert.match(w.stdout, "memory in use: 1.0 MiB");
  // two names, one of them a view of the same storage? no: each tensor owns its storage
  await run(e, "Big other;\nother = 2;", 301);
  assert.match((await run(e, "%who")).stdout, "memory in use: 2.0 MiB");
});

test("an interrupt during a %%eigen build kills the compiler and keeps the session", async () => {
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const e = new LanguageEngine({ interrupt: flag });
  try { await e.executor("eigen"); } catch { return; } // no compiler here: nothing to interrupt
  assert.is((await run(e, "type V = Tensor<f32, {2}>;\nV kept;\nkept = 4;")).outcome.status, "ok");
  // a program no cache holds (a fresh constant), so g++ really runs
  const code = `%%eigen\nkernel fresh(V v) { v = v * ${Math.random().toFixed(12)} + ${Date.now()}; }\nfresh(kept);`;
  const t0 = Date.now();
  const pending = run(e, code);
  const compilers = () => {
    const r = spawnSync("pgrep", ["-f", "-P", String(process.pid), "g\\+\\+|c\\+\\+|cc1plus"], { encoding: "utf8" });
    return r.stdout.trim();
  };
  // wait for g++ to start (a loaded machine may take seconds), then interrupt it
  let running = "";
  for (let waited = 0; !running && waited < 30_000; waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
    running = compilers();
  }
  const t1 = Date.now();
  Atomics.store(flag, 0, 1);
  const r = await pending;
  assert.ok(running, "the compiler was running when the interrupt came");
  // the build was cancelled (well before g++ could finish it), and no compiler process is left
  assert.is(r.outcome.status, "error");
  assert.is(r.outcome.error!.ename, "Interrupted", JSON.stringify(r.outcome.error));
  assert.ok(Date.now() - t1 < 500, `stopped ${Date.now() - t1} ms after the interrupt (started ${t1 - t0} ms earlier)`);
  assert.is(compilers(), "");
  Atomics.store(flag, 0, 0);
  const after = await run(e, "kept");
  assert.match(after.outcome.result!.data["text/plain"] as string, "[4., 4.]");
});

test("after a crash: a cell's definitions, without its statements, replayed into a fresh session", async () => {
  const cell = "type V = Tensor<f32, {2}>;\nV x;\nx = 5;\nconst N = 2;\nkernel k(V v) {\n  v = v + N;\n}\nREDUCE(x);";
  const defs = definitionsOnly(cell);
  assert.is(defs.split("\n").length, cell.split("\n").length, "lines are kept (diagnostics point at the same places)");
  assert.not.match(defs, "x = 5");
  assert.not.match(defs, "REDUCE");
  const e = engine();
  assert.is(e.restoreDefinitions([cell, "%reset\ntype W = Tensor<f32, {3}>;", "type U = Tensor<int32, {1}>;"]), 0);
  const n = e.names();
  assert.equal([n.types.sort(), n.kernels, n.consts, n.tensors], [["U", "W"], [], [], []]);
  assert.is(e.restoreDefinitions([cell]), 0);
  assert.equal(e.names().kernels, ["k"]);
  assert.match(String((await run(e, "V y;\ny = 1;\nk(y);\ny")).outcome.result!.data["text/plain"]), "[3., 3.]");
});

test("out-of-memory allocations become MemoryError, not a crash", () => {
  assert.is(engine().errorInfo(new RangeError("Array buffer allocation failed")).ename, "MemoryError");
});

test.run();
