// The real kernel process over real sockets: a zeromq Dealer/Subscriber/Request client
// (kernel/client.ts) sends signed and mis-signed messages and every request type.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { KernelClient } from "../kernel/client.js";
import { Message } from "../kernel/protocol.js";
import { DELIMITER, encode, Signer } from "../kernel/wire.js";

let k: KernelClient;

const types = (iopub: Message[]) => iopub.map((m) => m.header.msg_type);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// TENSORCORE_TEST_HOOKS: the %_crash magic that kills the worker exists only in such a kernel
test.before(async () => { k = await KernelClient.start({ env: { TENSORCORE_TEST_HOOKS: "1" } }); });
test.after(async () => { await k.close(); });

test("kernel_info on shell and control, wrapped in busy/idle", async () => {
  for (const ch of ["shell", "control"] as const) {
    const { reply, iopub } = await k.request(ch, "kernel_info_request", {});
    assert.is(reply.header.msg_type, "kernel_info_reply");
    assert.is(reply.content.protocol_version, "5.3");
    assert.is((reply.content.language_info as { name: string }).name, "tensorcore");
    assert.is((reply.content.language_info as { file_extension: string }).file_extension, ".ta");
    assert.equal(iopub.filter((m) => m.header.msg_type === "status").map((m) => m.content.execution_state), ["busy", "idle"]);
    assert.is(reply.parent_header.msg_id, iopub[0].parent_header.msg_id);
  }
});

test("execute: ordering, stream, result, persistent definitions, counter", async () => {
  const a = await k.execute("type V = Tensor<f32, {4}>;\nV x;\nx = 1.25;\nREDUCE(x);\nx");
  assert.is(a.reply.content.status, "ok");
  assert.equal(types(a.iopub), ["status", "execute_input", "stream", "execute_result", "status"]);
  assert.is(a.iopub[2].content.text, "5\n");
  const data = a.iopub[3].content.data as Record<string, string>;
  assert.match(data["text/plain"], "Tensor<f32, {4}>");
  assert.match(data["text/html"], "<table");
  const n = a.reply.content.execution_count as number;
  const b = await k.execute("x * 2");
  assert.is(b.reply.content.execution_count, n + 1);
  assert.match((b.iopub.find((m) => m.header.msg_type === "execute_result")!.content.data as Record<string, string>)["text/plain"], "2.5");
  // redefinition in a later cell
  const c = await k.execute("type V = Tensor<int32, {2}>;\nV x;\nx = 7;\nx");
  assert.match((c.iopub.find((m) => m.header.msg_type === "execute_result")!.content.data as Record<string, string>)["text/plain"], "[7, 7]");
});

test("errors: traceback with the cell's line and a caret, no TypeScript stack", async () => {
  const r = await k.execute("type W = Tensor<f32, {2}>;\nW w;\nw = nope + 1;");
  assert.is(r.reply.content.status, "error");
  const err = r.iopub.find((m) => m.header.msg_type === "error")!;
  const tb = (err.content.traceback as string[]).join("\n");
  assert.match(tb, /cell\[\d+\]:3:5: error: undefined name 'nope'/);
  assert.match(tb, "w = nope + 1;");
  assert.match(tb, "    ^");
  assert.not.match(tb, /\bat .*\.js:\d+/);
  // run-time faults too
  const f = await k.execute("type I = Tensor<f32, {2}>;\nI t;\nconst j = 5;\nt[j] = 1;");
  assert.is(f.reply.content.status, "error");
});

test("silent, store_history, user_expressions", async () => {
  const before = (await k.execute("1 + 1")).reply.content.execution_count as number;
  const s = await k.execute("x", { silent: true });
  assert.equal(types(s.iopub), ["status", "status"]);
  assert.is(s.reply.content.execution_count, before);
  const nh = await k.execute("x", { store_history: false });
  assert.is(nh.reply.content.execution_count, before);
  const u = await k.execute("REDUCE(x);", { user_expressions: { twice: "x * 2", bad: "zzz" } });
  const ue = u.reply.content.user_expressions as Record<string, { status: string; data?: Record<string, string> }>;
  assert.is(ue.twice.status, "ok");
  assert.match(ue.twice.data!["text/plain"], "14");
  assert.is(ue.bad.status, "error");
});

test("stop_on_error aborts the queued cells behind a failing one", async () => {
  const bad = k.message("execute_request", { code: "nope", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  const next = k.message("execute_request", { code: "1 + 2", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  const r1 = k.waitReply(bad.header.msg_id), r2 = k.waitReply(next.header.msg_id);
  await k.sendMessage("shell", bad);
  await k.sendMessage("shell", next);
  assert.is((await r1).content.status, "error");
  assert.is((await r2).content.status, "aborted");
  // later requests run again
  assert.is((await k.execute("1 + 2")).reply.content.status, "ok");
  // stop_on_error: false does not abort
  const bad2 = k.message("execute_request", { code: "nope", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
  const next2 = k.message("execute_request", { code: "1 + 2", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  const q1 = k.waitReply(bad2.header.msg_id), q2 = k.waitReply(next2.header.msg_id);
  await k.sendMessage("shell", bad2);
  await k.sendMessage("shell", next2);
  assert.is((await q1).content.status, "error");
  assert.is((await q2).content.status, "ok");
});

test("complete, inspect, is_complete, history, comm_info", async () => {
  const c = await k.request("shell", "complete_request", { code: "REDUCE(x); SOFT", cursor_pos: 15 });
  assert.ok((c.reply.content.matches as string[]).includes("SOFTMAX"));
  assert.is(c.reply.content.cursor_start, 11);
  assert.is(c.reply.content.cursor_end, 15);
  const c2 = await k.request("shell", "complete_request", { code: "x", cursor_pos: 1 });
  assert.ok((c2.reply.content.matches as string[]).includes("x"));
  const i = await k.request("shell", "inspect_request", { code: "SOFTMAX(x)", cursor_pos: 3, detail_level: 0 });
  assert.is(i.reply.content.found, true);
  assert.match((i.reply.content.data as Record<string, string>)["text/plain"], "Softmax along the last axis");
  const it = await k.request("shell", "inspect_request", { code: "x", cursor_pos: 1, detail_level: 0 });
  assert.match((it.reply.content.data as Record<string, string>)["text/plain"], "int32");
  const ic = await k.request("shell", "is_complete_request", { code: "kernel k(V a) {\n" });
  assert.is(ic.reply.content.status, "incomplete");
  const ok = await k.request("shell", "is_complete_request", { code: "x = 1;" });
  assert.is(ok.reply.content.status, "complete");
  const h = await k.request("shell", "history_request", { output: false, raw: true, hist_access_type: "tail", n: 3 });
  assert.is((h.reply.content.history as unknown[]).length, 3);
  const ci = await k.request("shell", "comm_info_request", {});
  assert.equal(ci.reply.content.comms, {});
});

test("pathological requests answer in linear time: a history glob, quotes for is_complete, a long line for inspect", async () => {
  await k.execute("// " + "a".repeat(40));
  const t0 = performance.now();
  // a glob turned into a regular expression backtracked exponentially here (12 stars: 20 s, heartbeat dead)
  const h = await k.request("shell", "history_request", { output: false, raw: true, hist_access_type: "search", pattern: "*a".repeat(30) + "b" }, 5000);
  assert.equal(h.reply.content.history, []);
  const hit = await k.request("shell", "history_request", { output: false, raw: true, hist_access_type: "search", pattern: "// a*a", n: 1 }, 5000);
  assert.is((hit.reply.content.history as unknown[]).length, 1);
  // every quote scanned the rest of the text (4 MB: 54 s)
  const ic = await k.request("shell", "is_complete_request", { code: '"'.repeat(1_000_000) }, 5000);
  assert.ok(["invalid", "complete"].includes(ic.reply.content.status as string));
  // an end-anchored regular expression retried from every position (300 KB: 76 s, not interruptible)
  const i = await k.request("shell", "inspect_request", { code: "a".repeat(300_000) + "  ", cursor_pos: 300_002, detail_level: 0 }, 5000);
  assert.is(i.reply.content.found, false);
  assert.ok(performance.now() - t0 < 5000, `${performance.now() - t0} ms`);
  assert.ok((await k.ping()) < 1000);
});

test("complete after a character outside the BMP: cursor_start/end and the typed matches' start/end in code points", async () => {
  const c = await k.request("shell", "complete_request", { code: "// 😀\nSOFT", cursor_pos: 9 });
  assert.equal([c.reply.content.cursor_start, c.reply.content.cursor_end], [5, 9]);
  const typed = (c.reply.content.metadata as { _jupyter_types_experimental: { text: string; start: number; end: number }[] })._jupyter_types_experimental;
  assert.ok(typed.some((t) => t.text === "SOFTMAX"));
  for (const t of typed) assert.equal([t.start, t.end], [5, 9]);
});

test("a malformed execute_request is an error reply that runs and counts nothing; a __proto__ user expression is kept", async () => {
  const before = (await k.execute("// a comment cell")).reply.content.execution_count as number;
  for (const code of [5, { a: 1 }, undefined]) {
    const r = await k.request("shell", "execute_request", code === undefined ? {} : { code });
    assert.is(r.reply.content.status, "error");
    assert.is(r.reply.content.ename, "BadRequest");
    assert.match(r.reply.content.evalue as string, "content.code must be a string");
    assert.is(r.reply.content.execution_count, before);
  }
  const big = await k.execute(" ".repeat((16 << 20) + 1));
  assert.is(big.reply.content.ename, "CellTooLarge");
  const u = await k.execute("// a comment cell", { user_expressions: { ["__proto__"]: "1", ok: "2" } });
  assert.equal(Object.keys(u.reply.content.user_expressions as object).sort(), ["__proto__", "ok"]);
  assert.is((await k.execute("// a comment cell")).reply.content.execution_count, before + 2);
});

test("mis-signed, unsigned and malformed messages are dropped; the kernel stays alive", async () => {
  const bad = k.message("kernel_info_request", {});
  const r = k.waitReply(bad.header.msg_id, 700).then(() => "answered", () => "dropped");
  await k.sendMessage("shell", bad, new Signer("wrong-key"));
  assert.is(await r, "dropped");
  const unsigned = k.message("execute_request", { code: "REDUCE(x);" });
  const r2 = k.waitReply(unsigned.header.msg_id, 700).then(() => "answered", () => "dropped");
  await k.sendMessage("shell", unsigned, new Signer(""));
  assert.is(await r2, "dropped");
  // Signed but malformed: bad JSON, invalid UTF-8, missing frames, no delimiter, unknown type, a huge cell.
  const sign = (parts: Buffer[]) => [DELIMITER, Buffer.from(k.signer.sign(parts)), ...parts];
  const h = Buffer.from(JSON.stringify(k.message("execute_request", {}).header));
  await k.sendFrames("shell", sign([h, Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{not json")]));
  await k.sendFrames("shell", sign([h, Buffer.from("{}"), Buffer.from("{}"), Buffer.from([0x7b, 0x22, 0x63, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])]));
  await k.sendFrames("shell", [DELIMITER, Buffer.from("x")]);
  await k.sendFrames("shell", [Buffer.from("no delimiter")]);
  await k.sendFrames("control", sign([Buffer.from("[]"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")]));
  const unknown = await Promise.race([k.request("shell", "frobnicate_request", {}).then(() => "answered"), sleep(700).then(() => "dropped")]);
  assert.is(unknown, "dropped");
  const huge = "// filler\n".repeat(200_000) + "REDUCE(x);"; // 2 MB
  const hr = await k.execute(huge, {}, 60000);
  assert.is(hr.reply.content.status, "ok");
  const bin = encode(k.message("execute_request", { code: "\ud800 REDUCE(x);", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false }), k.signer);
  await k.sendFrames("shell", bin); // a lone surrogate encodes as U+FFFD: a compile error, not a crash
  const alive = await k.request("shell", "kernel_info_request", {});
  assert.is(alive.reply.content.status, "ok");
  assert.match(k.stderr, "bad signature");
  assert.match(k.stderr, "missing signature");
  assert.match(k.stderr, "not valid JSON");
  assert.match(k.stderr, "not valid UTF-8");
  assert.match(k.stderr, "unknown type 'frobnicate_request'");
});

const LOOP = "type C = Tensor<f32, {1}>;\nC n;\nbatch(i = 0..100000000 step 1) { n = n + 1; }";

test("interrupt on control stops a long loop within a second; heartbeat answers while busy", async () => {
  await k.execute("type K = Tensor<f32, {2}>;\nK keep;\nkeep = 3;");
  const m = k.message("execute_request", { code: LOOP, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true });
  const reply = k.waitReply(m.header.msg_id, 20000);
  await k.sendMessage("shell", m);
  await sleep(400);
  const beats = [await k.ping(), await k.ping(), await k.ping()];
  assert.ok(beats.every((b) => b < 200), `heartbeat while busy: ${beats}`);
  const t0 = Date.now();
  const ir = await k.request("control", "interrupt_request", {});
  assert.is(ir.reply.content.status, "ok");
  const r = await reply;
  assert.ok(Date.now() - t0 < 1000, `stopped after ${Date.now() - t0} ms`);
  assert.is(r.content.status, "error");
  assert.is(r.content.ename, "Interrupted");
  const after = await k.execute("keep");
  assert.match((after.iopub.find((x) => x.header.msg_type === "execute_result")!.content.data as Record<string, string>)["text/plain"], "[3., 3.]");
});

test("interrupt stops a compiled (%%eigen) cell within a second", async () => {
  const code = "%%eigen\ntype C1 = Tensor<f32, {1}>;\nkernel spin(C1 n) { batch(i = 0..2000000000 step 1) { n = n + 1; } }\nC1 m;\nspin(m);";
  const m = k.message("execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
  const reply = k.waitReply(m.header.msg_id, 120000);
  await k.sendMessage("shell", m);
  const compiled = () => (k as unknown as { iopubByParent: Map<string, Message[]> }).iopubByParent.get(m.header.msg_id)?.some((x) => x.header.msg_type === "update_display_data" && String((x.content.data as Record<string, string>)["text/plain"]).includes("compiled"));
  const t1 = Date.now();
  let early: Message | undefined;
  void reply.then((r) => { early = r; });
  while (!compiled() && !early && Date.now() - t1 < 110000) await sleep(50);
  if (early) { assert.unreachable(`the cell ended before it could be interrupted: ${JSON.stringify(early.content).slice(0, 400)}`); }
  await sleep(300);
  const t0 = Date.now();
  await k.request("control", "interrupt_request", {});
  const r = await reply;
  assert.ok(Date.now() - t0 < 1000, `stopped after ${Date.now() - t0} ms`);
  assert.is(r.content.ename, "Interrupted");
  assert.is((await k.execute("1 + 1")).reply.content.status, "ok");
});

test("SIGINT interrupts too", async () => {
  const m = k.message("execute_request", { code: LOOP, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
  const reply = k.waitReply(m.header.msg_id, 20000);
  await k.sendMessage("shell", m);
  await sleep(300);
  k.proc.kill("SIGINT");
  assert.is((await reply).content.ename, "Interrupted");
  assert.is((await k.execute("keep")).reply.content.status, "ok");
});

test("a replayed (validly signed, sent twice) execute_request runs once", async () => {
  await k.execute("type RP = Tensor<f32, {1}>;\nRP replayed;\nreplayed = 0;");
  const m = k.message("execute_request", { code: "replayed = replayed + 1;", silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: false });
  const frames = encode(m, k.signer);
  const reply = k.waitReply(m.header.msg_id, 10000);
  await k.sendFrames("shell", frames);
  await reply;
  await k.sendFrames("shell", frames);
  await sleep(300);
  const v = await k.execute("replayed");
  assert.match((v.iopub.find((x) => x.header.msg_type === "execute_result")!.content.data as Record<string, string>)["text/plain"], "[1.]");
  assert.match(k.stderr, "duplicate signature");
});

test("a crashed worker loses the cell, not the kernel: definitions come back, lost tensors are named", async () => {
  const def = await k.execute("type CR = Tensor<f32, {2}>;\nconst CRN = 3;\nkernel crtwice(CR v) { v = v * 2; }\nCR crx;\ncrx = 1;");
  assert.is(def.reply.content.status, "ok");
  const r = await k.execute("%_crash");
  assert.is(r.reply.content.status, "error");
  assert.is(r.reply.content.ename, "WorkerDied");
  const tb = (r.reply.content.traceback as string[]).join("\n");
  assert.match(tb, /Lost tensors \(run the cells that compute them again\): .*\bcrx \(8 B\)/);
  assert.match(tb, /Restored by replaying .*kernel crtwice.*type CR.*const CRN/);
  assert.not.match(tb, "Not restored");
  // the definitions work in the new worker; the tensor must be declared again
  const after = await k.execute("CR y;\ny = CRN;\ncrtwice(y);\ny");
  assert.is(after.reply.content.status, "ok", JSON.stringify(after.reply.content));
  assert.match((after.iopub.find((x) => x.header.msg_type === "execute_result")!.content.data as Record<string, string>)["text/plain"], "[6., 6.]");
  const gone = await k.execute("crx");
  assert.match(String(gone.reply.content.evalue), "undefined name 'crx'");
});

test("shutdown with restart: replies, publishes, exits cleanly", async () => {
  const { reply, iopub } = await k.request("control", "shutdown_request", { restart: true });
  assert.equal(reply.content, { status: "ok", restart: true });
  assert.ok(types(iopub).includes("shutdown_reply"));
  const code = await Promise.race([k.exited, sleep(5000).then(() => "timeout")]);
  assert.is(code, 0);
});

test.run();
