// Handlers and wire format without sockets: a fake engine and an outbox that records messages.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { Engine, KernelHandlers, Outbox } from "../kernel/handlers.js";
import { ExecuteOutcome, ExecuteRequest, Message, OutputEvent, makeHeader } from "../kernel/protocol.js";
import { isComplete, kernelInfo } from "../kernel/syntax.js";
import { decode, DELIMITER, encode, Signer } from "../kernel/wire.js";

class FakeEngine implements Engine {
  interrupted = 0;
  shutdowns = 0;
  requests: ExecuteRequest[] = [];
  running = 0;
  /** A cell "slow" runs until release() is called. */
  release = () => {};
  kernelInfo() { return kernelInfo(); }
  async execute(req: ExecuteRequest, emit: (e: OutputEvent) => void): Promise<ExecuteOutcome> {
    this.requests.push(req);
    if (++this.running > 1) throw new Error("two cells at once");
    try { return await this.run(req, emit); } finally { this.running--; }
  }
  private async run(req: ExecuteRequest, emit: (e: OutputEvent) => void): Promise<ExecuteOutcome> {
    if (req.code === "slow") await new Promise<void>((r) => { this.release = r; });
    if (req.code === "fail") return { status: "error", error: { ename: "CompileError", evalue: "bad", traceback: ["cell:1:1: error: bad", "  fail", "  ^"] } };
    if (req.code === "throw") throw new Error("engine bug");
    if (req.code === "quiet") return { status: "ok" };
    emit({ kind: "stream", name: "stdout", text: "hello\n" });
    emit({ kind: "display", data: { "text/plain": "p" }, metadata: {}, displayId: "d1" });
    emit({ kind: "display", data: { "text/plain": "q" }, metadata: {}, displayId: "d1", update: true });
    return { status: "ok", result: { data: { "text/plain": "42" }, metadata: {} } };
  }
  async complete(code: string, cursor: number) { return { matches: ["abc"], cursor_start: cursor - 1, cursor_end: cursor, metadata: {} }; }
  async inspect() { return { found: true, data: { "text/plain": "doc" }, metadata: {} }; }
  isComplete(code: string) { return isComplete(code); }
  interrupt() { this.interrupted++; }
  async shutdown() { this.shutdowns++; }
}

class Recorder implements Outbox {
  replies: [string, Message][] = [];
  iopub: Message[] = [];
  reply(channel: string, msg: Message) { this.replies.push([channel, msg]); }
  publish(msg: Message) { this.iopub.push(msg); }
}

function request(type: string, content: Record<string, unknown> = {}): Message {
  return { identities: [Buffer.from("id1")], header: makeHeader(type, "client-session"), parent_header: {}, metadata: {}, content: content as never, buffers: [] };
}

function setup() {
  const engine = new FakeEngine(), out = new Recorder();
  let shutdown: boolean | undefined;
  const h = new KernelHandlers(engine, out, { session: "kernel-session", onShutdown: (r) => { shutdown = r; } });
  return { engine, out, h, shutdown: () => shutdown };
}

const exec = (code: string, extra: Record<string, unknown> = {}) => request("execute_request", { code, silent: false, store_history: true, user_expressions: {}, stop_on_error: true, ...extra });

test("execute: busy, execute_input, outputs, result, reply, idle, in that order", async () => {
  const { out, h } = setup();
  const req = exec("x");
  h.receive("shell", req);
  await h.whenIdle();
  assert.equal(out.iopub.map((m) => m.header.msg_type), ["status", "execute_input", "stream", "display_data", "update_display_data", "execute_result", "status"]);
  assert.equal(out.iopub.map((m) => m.content.execution_state).filter(Boolean), ["busy", "idle"]);
  assert.ok(out.iopub.every((m) => m.parent_header.msg_id === req.header.msg_id));
  assert.equal(out.iopub[3].content.transient, { display_id: "d1" });
  const [channel, reply] = out.replies[0];
  assert.is(channel, "shell");
  assert.is(reply.header.msg_type, "execute_reply");
  assert.equal(reply.identities, [Buffer.from("id1")]);
  assert.is(reply.header.session, "kernel-session");
  assert.equal(reply.content, { status: "ok", execution_count: 1, user_expressions: {}, payload: [] });
  assert.is(out.iopub[5].content.execution_count, 1);
});

test("execution_count counts stored cells; silent cells publish nothing but status", async () => {
  const { out, h, engine } = setup();
  h.receive("shell", exec("a"));
  h.receive("shell", exec("b", { store_history: false }));
  h.receive("shell", exec("c", { silent: true }));
  h.receive("shell", exec("d"));
  await h.whenIdle();
  assert.equal(out.replies.map(([, m]) => m.content.execution_count), [1, 1, 1, 2]);
  assert.is(engine.requests[2].silent, true);
  const silentTraffic = out.iopub.filter((m) => m.parent_header.msg_id === out.replies[2][1].parent_header.msg_id);
  assert.equal(silentTraffic.map((m) => m.header.msg_type), ["status", "status"]);
  assert.equal(h.history.map((x) => x[2]), ["a", "d"]);
});

test("errors: error message and error reply; stop_on_error aborts what is queued", async () => {
  const { out, h } = setup();
  h.receive("shell", exec("fail"));
  h.receive("shell", exec("queued"));
  await h.whenIdle();
  const err = out.iopub.find((m) => m.header.msg_type === "error")!;
  assert.equal(err.content.traceback, ["cell:1:1: error: bad", "  fail", "  ^"]);
  assert.is(out.replies[0][1].content.status, "error");
  assert.is(out.replies[0][1].content.ename, "CompileError");
  assert.is(out.replies[1][1].content.status, "aborted");
  h.receive("shell", exec("later"));
  await h.whenIdle();
  assert.is(out.replies[2][1].content.status, "ok");
});

test("an engine that throws gives an error reply, not silence", async () => {
  const { out, h } = setup();
  h.receive("shell", exec("throw", { stop_on_error: false }));
  await h.whenIdle();
  assert.is(out.replies[0][1].content.status, "error");
  assert.match(String(out.replies[0][1].content.evalue), "engine bug");
});

test("kernel_info, complete (code points), inspect, is_complete, history, comm_info, unknown", async () => {
  const { out, h } = setup();
  h.receive("shell", request("kernel_info_request"));
  h.receive("shell", request("complete_request", { code: "é😀ab", cursor_pos: 4 }));
  h.receive("shell", request("inspect_request", { code: "x", cursor_pos: 1 }));
  h.receive("shell", request("is_complete_request", { code: "kernel k() {" }));
  h.receive("shell", exec("one"));
  h.receive("shell", request("history_request", { hist_access_type: "tail", n: 5 }));
  h.receive("shell", request("history_request", { hist_access_type: "search", pattern: "o*" }));
  h.receive("shell", request("comm_info_request"));
  h.receive("shell", request("no_such_request"));
  await h.whenIdle();
  const byType = Object.fromEntries(out.replies.map(([, m]) => [m.header.msg_type, m.content]));
  assert.is(byType.kernel_info_reply.protocol_version, "5.3");
  assert.is((byType.kernel_info_reply.language_info as { name: string }).name, "tensorcore");
  assert.equal([byType.complete_reply.cursor_start, byType.complete_reply.cursor_end], [3, 4]); // code points, not UTF-16 units
  assert.is(byType.inspect_reply.found, true);
  assert.equal(byType.is_complete_reply, { status: "incomplete", indent: "    " });
  assert.equal(out.replies.filter(([, m]) => m.header.msg_type === "history_reply").map(([, m]) => m.content.history), [[[1, 1, "one"]], [[1, 1, "one"]]]);
  assert.equal(byType.comm_info_reply, { status: "ok", comms: {} });
  assert.is(out.replies.length, 8); // the unknown request is dropped
});

test("control: interrupt and shutdown (restart) run at once, even behind a busy shell", async () => {
  const { out, h, engine, shutdown } = setup();
  h.receive("control", request("interrupt_request"));
  await new Promise((r) => setImmediate(r));
  assert.is(engine.interrupted, 1);
  assert.equal(out.replies[0][0], "control");
  assert.equal(out.replies[0][1].content, { status: "ok" });
  h.receive("control", request("shutdown_request", { restart: true }));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(out.replies[1][1].content, { status: "ok", restart: true });
  assert.ok(out.iopub.some((m) => m.header.msg_type === "shutdown_reply"));
  assert.is(engine.shutdowns, 1);
  assert.is(shutdown(), true);
  h.receive("shell", exec("after shutdown"));
  await h.whenIdle();
  assert.is(out.replies.length, 2);
});

test("control: a cell sent on control waits for the running cell, then runs and is answered on control", async () => {
  const { out, h, engine } = setup();
  h.receive("shell", exec("slow"));
  await new Promise((r) => setImmediate(r));
  h.receive("control", exec("x"));
  h.receive("control", request("interrupt_request"));
  await new Promise((r) => setTimeout(r, 10));
  assert.is(engine.interrupted, 1); // the interrupt did not wait
  assert.equal(engine.requests.map((r) => r.code), ["slow"]);
  engine.release();
  await h.whenIdle();
  assert.equal(engine.requests.map((r) => r.code), ["slow", "x"]);
  const execReplies = out.replies.filter(([, m]) => m.header.msg_type === "execute_reply");
  assert.equal(execReplies.map(([ch, m]) => [ch, m.content.status, m.content.execution_count]), [["shell", "ok", 1], ["control", "ok", 2]]);
});

test("stdin: an unrequested input_reply is dropped with a log line, and nothing is answered", async () => {
  const engine = new FakeEngine(), out = new Recorder(), logged: string[] = [];
  const h = new KernelHandlers(engine, out, { session: "kernel-session", log: (l) => logged.push(l) });
  h.receive("stdin", request("input_reply", { value: "x" }));
  await h.whenIdle();
  assert.equal([out.replies.length, out.iopub.length], [0, 0]);
  assert.equal(logged, ["dropped an unrequested input_reply on stdin"]);
});

test("history: tail, range and search, with and without outputs (the cell's text/plain result)", async () => {
  const { out, h } = setup();
  h.receive("shell", exec("one"));
  h.receive("shell", exec("quiet"));
  h.receive("shell", exec("fail", { stop_on_error: false }));
  h.receive("shell", request("history_request", { hist_access_type: "tail", n: 3, output: true, raw: true }));
  h.receive("shell", request("history_request", { hist_access_type: "range", session: 0, start: 2, stop: 3, output: false }));
  h.receive("shell", request("history_request", { hist_access_type: "range", session: 0, start: 1, stop: 4, output: true }));
  h.receive("shell", request("history_request", { hist_access_type: "range", session: 7, start: 1, stop: 4 }));
  h.receive("shell", request("history_request", { hist_access_type: "search", pattern: "*e*", output: true }));
  await h.whenIdle();
  const replies = out.replies.filter(([, m]) => m.header.msg_type === "history_reply").map(([, m]) => m.content.history);
  assert.equal(replies[0], [[1, 1, ["one", "42"]], [1, 2, ["quiet", null]], [1, 3, ["fail", null]]]);
  assert.equal(replies[1], [[1, 2, "quiet"]]);
  assert.equal(replies[2], [[1, 1, ["one", "42"]], [1, 2, ["quiet", null]], [1, 3, ["fail", null]]]);
  assert.equal(replies[3], [], "another session has no history here");
  assert.equal(replies[4], [[1, 1, ["one", "42"]], [1, 2, ["quiet", null]]]);
});

test("is_complete: braces, comments, strings, magics", () => {
  assert.is(isComplete("x = 1;").status, "complete");
  assert.is(isComplete("kernel k() {\n  x = 1;").status, "incomplete");
  assert.is(isComplete("batch(i = 0..4 step 1) {").status, "incomplete");
  assert.is(isComplete("/* open").status, "incomplete");
  assert.is(isComplete("// { in a comment").status, "complete");
  assert.is(isComplete("x = 1; }").status, "invalid");
  assert.is(isComplete("%load models/x").status, "complete");
  // code that can never parse, whatever follows
  assert.is(isComplete("kernel 1x(").status, "invalid");
  assert.is(isComplete("type = ;\nkernel k() {").status, "invalid");
  assert.is(isComplete("x = (1 + ;").status, "invalid");
  // a syntax error only at the end of the input is for more typing (inside braces) or for the run
  assert.is(isComplete("kernel k(V v) {\n  v = v +").status, "incomplete");
  assert.is(isComplete("x = 1").status, "complete");
  // chunks between magic lines are separate programs: a bare expression before a magic is fine
  assert.is(isComplete("x\n%who\ny").status, "complete");
  assert.is(isComplete("%who\nkernel 2 {").status, "invalid");
});

test("wire: sign, verify in constant time, round trip, drop reasons", () => {
  const s = new Signer("secret");
  const m = request("kernel_info_request");
  const frames = encode(m, s);
  const d = decode(frames, s);
  assert.ok(d.ok);
  if (d.ok) {
    assert.equal(d.message.identities, [Buffer.from("id1")]);
    assert.is(d.message.header.msg_id, m.header.msg_id);
  }
  const reasons = (f: Buffer[], signer = s) => { const r = decode(f, signer); return r.ok ? "ok" : r.reason; };
  assert.is(reasons(encode(m, new Signer("other"))), "bad signature");
  assert.is(reasons(encode(m, new Signer(""))), "missing signature");
  const tampered = [...frames];
  tampered[tampered.length - 1] = Buffer.from('{"code":"evil"}');
  assert.is(reasons(tampered), "bad signature");
  assert.match(reasons([DELIMITER]), "too few frames");
  assert.is(reasons([Buffer.from("x")]), "no <IDS|MIS> delimiter".replace("MIS", "MSG"));
  assert.is(reasons(encode(m, new Signer("")), new Signer("")), "ok"); // an empty key means unsigned
  const sha512 = new Signer("k", "hmac-sha512");
  assert.is(sha512.sign([Buffer.from("a")]).length, 128);
  assert.throws(() => new Signer("k", "rot13"), /unsupported signature_scheme/);
  const parts = [Buffer.from(JSON.stringify(m.header)), Buffer.from("{}"), Buffer.from("{}"), Buffer.from([0xff, 0xfe])];
  assert.match(reasons([DELIMITER, Buffer.from(s.sign(parts)), ...parts]), "not valid UTF-8");
});

test("wire: a validly signed message sent twice runs once (jupyter_client's digest history), bounded", () => {
  const s = new Signer("secret");
  const m = request("execute_request", { code: "1" });
  const frames = encode(m, s);
  assert.ok(decode(frames, s).ok);
  const again = decode(frames, s);
  assert.is(again.ok ? "ok" : again.reason, "duplicate signature");
  // the same content in a new message (new msg_id) is a new signature
  assert.ok(decode(encode(request("execute_request", { code: "1" }), s), s).ok);
  // a message dropped for another reason does not enter the history: sent again, it is dropped for the same reason
  const parts = [Buffer.from(JSON.stringify(m.header)), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{oops")];
  const bad = [DELIMITER, Buffer.from(s.sign(parts)), ...parts];
  for (let i = 0; i < 2; i++) { const r = decode(bad, s); assert.match(r.ok ? "ok" : r.reason, "not valid JSON"); }
  // bounded: with room for 10 signatures, the oldest are forgotten once 10 more arrive
  const small = new Signer("k", "hmac-sha256", 10);
  const msgs = Array.from({ length: 25 }, (_, i) => encode(request("kernel_info_request", { i }), small));
  for (const f of msgs) assert.ok(decode(f, small).ok);
  assert.not.ok(decode(msgs[24], small).ok, "a recent replay is still refused");
  assert.ok(decode(msgs[0], small).ok, "the history holds at most its size");
});

test.run();
