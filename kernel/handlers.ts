// Requests to replies. This is the protocol's semantics (ordering, counters, history, aborts)
// without sockets or the language: messages come in through `receive`, go out through an
// Outbox, and the language is behind the Engine interface. Tests drive it with fakes.

import {
  CompleteResult, ExecuteOutcome, ExecuteRequest, InspectResult, IsCompleteResult, Json, JsonObject,
  KernelInfo, Message, OutputEvent, PROTOCOL_VERSION, makeMessage, replyType,
} from "./protocol.js";

/** The language side, as the handlers see it (engine.ts in-process, remote.ts in a worker). */
export interface Engine {
  kernelInfo(): KernelInfo;
  execute(req: ExecuteRequest, emit: (e: OutputEvent) => void): Promise<ExecuteOutcome>;
  complete(code: string, cursor: number): Promise<CompleteResult>;
  inspect(code: string, cursor: number, detailLevel: number): Promise<InspectResult>;
  isComplete(code: string): IsCompleteResult;
  /** Stop the running cell, if any (called from the control channel or SIGINT). */
  interrupt(): void;
  shutdown(): Promise<void>;
}

/** Where messages go: replies to the channel the request came on, and iopub broadcasts. */
export interface Outbox {
  reply(channel: "shell" | "control" | "stdin", msg: Message): void;
  publish(msg: Message): void;
}

export interface HandlerOptions {
  /** The kernel's session id (header.session of everything it sends). */
  session: string;
  /** Called after the shutdown reply went out; restart says whether the client will start a new kernel. */
  onShutdown?(restart: boolean): void;
  log?(line: string): void;
}

type Channel = "shell" | "control";
const STOP_ON_ERROR_WAIT_MS = 5;
const MAX_OUTPUTS = 1000, MAX_OUTPUT_CHARS = 10_000;
/** The newest cells history keeps, by count and by characters; a cell's largest size (as a .ta file's). */
const MAX_HISTORY = 10_000, MAX_HISTORY_CHARS = 64 << 20, MAX_CELL_CHARS = 16 << 20;
interface Queued { channel: Channel; msg: Message }

export class KernelHandlers {
  executionCount = 0;
  /** [session, line, input] for every execute with store_history. */
  readonly history: [number, number, string][] = [];
  private historyChars = 0;
  /** The text/plain result of recent history lines (history_request with output), bounded. */
  private readonly outputs = new Map<number, string>();
  private readonly queue: Queued[] = [];
  private running = false;
  /** Requests queued behind a cell that failed with stop_on_error: they are answered "aborted". */
  private readonly aborted = new WeakSet<Message>();
  private drained: (() => void)[] = [];
  private shuttingDown = false;

  constructor(private readonly engine: Engine, private readonly out: Outbox, private readonly opts: HandlerOptions) {}

  private log(line: string): void { this.opts.log?.(line); }

  /** A decoded, verified message from a channel. Shell requests and cells run one at a time, in order; other control requests at once. */
  receive(channel: Channel | "stdin", msg: Message): void {
    if (channel === "stdin") {
      // this kernel never asks for input, so nothing on stdin answers anything
      this.log(`dropped an unrequested ${msg.header.msg_type} on stdin`);
      return;
    }
    if (this.shuttingDown) return;
    // Control requests run at once, except a cell: the protocol lets a client send any request on
    // control, but cells must run one at a time and in order (the engine runs one at a time, and the
    // execution count and history follow the order), so one sent there waits its turn and is
    // answered on control.
    if (channel === "control" && msg.header.msg_type !== "execute_request") { void this.dispatch(channel, msg); return; }
    this.queue.push({ channel, msg });
    if (!this.running) void this.pump();
  }

  /** Resolves when every queued shell request has been answered (for tests and shutdown). */
  whenIdle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.drained.push(r));
  }

  private async pump(): Promise<void> {
    this.running = true;
    while (this.queue.length) {
      const q = this.queue.shift()!;
      await this.dispatch(q.channel, q.msg);
    }
    this.running = false;
    for (const r of this.drained.splice(0)) r();
  }

  private status(state: "busy" | "idle", parent: Message): void {
    this.out.publish(makeMessage("status", { execution_state: state }, parent, this.opts.session));
  }

  private reply(channel: Channel, parent: Message, content: JsonObject, metadata: JsonObject = {}): void {
    this.out.reply(channel, makeMessage(replyType(parent.header.msg_type), content, parent, this.opts.session, metadata));
  }

  private publish(type: string, content: JsonObject, parent: Message): void {
    this.out.publish(makeMessage(type, content, parent, this.opts.session));
  }

  private async dispatch(channel: Channel, msg: Message): Promise<void> {
    const type = msg.header.msg_type;
    this.status("busy", msg);
    try {
      await this.handle(channel, type, msg);
    } catch (e) {
      // A handler bug answers with an error reply instead of leaving the client waiting.
      this.log(`error handling ${type}: ${(e as Error)?.stack ?? e}`);
      if (type.endsWith("_request")) this.reply(channel, msg, { status: "error", ename: "InternalError", evalue: String((e as Error)?.message ?? e), traceback: [] });
    } finally {
      this.status("idle", msg);
    }
  }

  private async handle(channel: Channel, type: string, msg: Message): Promise<void> {
    const c = msg.content as Record<string, unknown>;
    switch (type) {
      case "kernel_info_request": {
        const info = this.engine.kernelInfo();
        this.reply(channel, msg, { status: "ok", protocol_version: PROTOCOL_VERSION, ...(info as unknown as JsonObject) });
        return;
      }
      case "execute_request":
        return this.execute(channel, msg);
      case "complete_request": {
        const code = str(c.code), cursor = cursorOf(c.cursor_pos, code);
        const r = await this.engine.complete(code, cursor);
        // The protocol counts cursor positions in code points; JavaScript strings in UTF-16 units
        // (the typed matches' start and end too, which JupyterLab reads instead of cursor_start)
        const start = toCodePoints(code, r.cursor_start), end = toCodePoints(code, r.cursor_end);
        const typed = (r.metadata as JsonObject | undefined)?._jupyter_types_experimental;
        const metadata = Array.isArray(typed) ? { ...r.metadata, _jupyter_types_experimental: typed.map((t) => ({ ...(t as JsonObject), start, end })) } : r.metadata;
        this.reply(channel, msg, { status: "ok", ...(r as unknown as JsonObject), metadata, cursor_start: start, cursor_end: end });
        return;
      }
      case "inspect_request": {
        const code = str(c.code), cursor = cursorOf(c.cursor_pos, code);
        const r = await this.engine.inspect(code, cursor, typeof c.detail_level === "number" ? c.detail_level : 0);
        this.reply(channel, msg, { status: "ok", ...(r as unknown as JsonObject) });
        return;
      }
      case "is_complete_request": {
        const r = this.engine.isComplete(str(c.code));
        this.reply(channel, msg, r as unknown as JsonObject);
        return;
      }
      case "history_request": {
        const entries = this.historyFor(c);
        // With output: [session, line, [input, output]], the output being the cell's result as text (null if none).
        const history = c.output === true ? entries.map(([s, l, input]) => [s, l, [input, this.outputs.get(l) ?? null]]) : entries;
        this.reply(channel, msg, { status: "ok", history: history as unknown as Json });
        return;
      }
      case "comm_info_request":
        this.reply(channel, msg, { status: "ok", comms: {} });
        return;
      case "comm_open":
        // No comm targets: close it at once, as the protocol asks of a kernel without the target.
        this.publish("comm_close", { comm_id: str(c.comm_id), data: {} }, msg);
        return;
      case "comm_msg": case "comm_close":
        return;
      case "interrupt_request":
        this.engine.interrupt();
        this.reply(channel, msg, { status: "ok" });
        return;
      case "shutdown_request": {
        const restart = c.restart === true;
        this.shuttingDown = true;
        this.engine.interrupt();
        this.reply(channel, msg, { status: "ok", restart });
        this.publish("shutdown_reply", { status: "ok", restart }, msg); // older clients listen on iopub
        await this.engine.shutdown().catch(() => undefined);
        this.opts.onShutdown?.(restart);
        return;
      }
      default:
        this.log(`dropped a message of unknown type '${type}' on ${channel}`);
    }
  }

  private async execute(channel: Channel, msg: Message): Promise<void> {
    const c = msg.content as Record<string, unknown>;
    // a request the protocol does not allow runs nothing and counts nothing: an error reply names it
    const refuse = (ename: string, evalue: string) => {
      this.reply(channel, msg, { status: "error", execution_count: this.executionCount, ename, evalue, traceback: [`${ename}: ${evalue}`], user_expressions: {}, payload: [] }, { status: "error" });
    };
    if (typeof c.code !== "string") return refuse("BadRequest", `execute_request: content.code must be a string, got ${c.code === undefined ? "nothing" : Array.isArray(c.code) ? "a list" : typeof c.code}`);
    if (c.code.length > MAX_CELL_CHARS) return refuse("CellTooLarge", `the cell has ${c.code.length} characters, more than ${MAX_CELL_CHARS} (as \`tensorcore run\` refuses a .ta file over 16 MiB)`);
    const req: ExecuteRequest = {
      code: str(c.code),
      silent: c.silent === true,
      store_history: c.silent === true ? false : c.store_history !== false,
      user_expressions: isStringMap(c.user_expressions) ? c.user_expressions : {},
      allow_stdin: c.allow_stdin === true,
      stop_on_error: c.stop_on_error !== false,
    };
    if (this.aborted.has(msg)) {
      this.reply(channel, msg, { status: "aborted", execution_count: this.executionCount });
      return;
    }
    if (req.store_history) this.executionCount++;
    const count = this.executionCount;
    req.execution_count = count;
    if (req.store_history) {
      this.history.push([1, count, req.code]);
      this.historyChars += req.code.length;
      // the newest cells are kept (a long session's sources would otherwise grow without end)
      while (this.history.length > MAX_HISTORY || (this.historyChars > MAX_HISTORY_CHARS && this.history.length > 1))
        this.historyChars -= this.history.shift()![2].length;
    }
    if (!req.silent) this.publish("execute_input", { code: req.code, execution_count: count }, msg);
    const emit = (e: OutputEvent) => {
      if (req.silent) return;
      switch (e.kind) {
        case "stream": this.publish("stream", { name: e.name, text: e.text }, msg); return;
        case "clear": this.publish("clear_output", { wait: e.wait }, msg); return;
        case "display": {
          const transient: JsonObject = e.displayId ? { display_id: e.displayId } : {};
          this.publish(e.update ? "update_display_data" : "display_data", { data: e.data, metadata: e.metadata, transient }, msg);
        }
      }
    };
    let outcome: ExecuteOutcome;
    try {
      outcome = await this.engine.execute(req, emit);
    } catch (e) {
      outcome = { status: "error", error: { ename: "InternalError", evalue: String((e as Error)?.message ?? e), traceback: [`internal error: ${(e as Error)?.message ?? e}`] } };
    }
    if (outcome.status === "ok") {
      if (outcome.result && !req.silent) this.publish("execute_result", { execution_count: count, data: outcome.result.data, metadata: outcome.result.metadata }, msg);
      if (outcome.result && req.store_history) this.keepOutput(count, outcome.result.data["text/plain"]);
      this.reply(channel, msg, { status: "ok", execution_count: count, user_expressions: outcome.user_expressions ?? {}, payload: [] });
      return;
    }
    const err = outcome.error ?? { ename: "Error", evalue: "", traceback: [] };
    if (!req.silent) this.publish("error", { ename: err.ename, evalue: err.evalue, traceback: err.traceback }, msg);
    if (req.stop_on_error) {
      // Abort the cells already sent behind this one (let the sockets deliver what has arrived),
      // before the reply goes out, so nothing sent after the client saw the error is aborted.
      await new Promise((r) => setTimeout(r, STOP_ON_ERROR_WAIT_MS));
      for (const q of this.queue) if (q.msg.header.msg_type === "execute_request") this.aborted.add(q.msg);
    }
    this.reply(channel, msg, { status: "error", execution_count: count, ename: err.ename, evalue: err.evalue, traceback: err.traceback, user_expressions: {}, payload: [] }, { status: "error" });
  }

  private keepOutput(line: number, text: unknown): void {
    if (typeof text !== "string") return;
    this.outputs.set(line, text.length > MAX_OUTPUT_CHARS ? text.slice(0, MAX_OUTPUT_CHARS) + "…" : text);
    // Only the newest outputs are kept (a long session's results would otherwise grow without end).
    if (this.outputs.size > MAX_OUTPUTS) this.outputs.delete(this.outputs.keys().next().value!);
  }

  private historyFor(c: Record<string, unknown>): [number, number, string][] {
    // One session (1); 0 means "the current one", as in IPython.
    if (typeof c.session === "number" && c.session !== 0 && c.session !== 1) return [];
    const h = this.history;
    switch (c.hist_access_type) {
      case "tail": {
        const n = typeof c.n === "number" && c.n > 0 ? c.n : 10;
        return h.slice(-n);
      }
      case "range": {
        const start = typeof c.start === "number" ? c.start : 1;
        const stop = typeof c.stop === "number" ? c.stop : Infinity;
        return h.filter(([, line]) => line >= start && line < stop);
      }
      case "search": {
        const pattern = typeof c.pattern === "string" ? c.pattern : "*";
        let hits = h.filter(([, , input]) => globMatch(pattern, input));
        if (c.unique === true) {
          const seen = new Set<string>();
          hits = hits.reverse().filter(([, , i]) => (seen.has(i) ? false : (seen.add(i), true))).reverse();
        }
        const n = typeof c.n === "number" && c.n > 0 ? c.n : hits.length;
        return hits.slice(-n);
      }
      default:
        return h.slice();
    }
  }
}

function str(v: unknown): string { return typeof v === "string" ? v : ""; }
/** A protocol cursor (code points) as a string index (UTF-16 units). */
function cursorOf(v: unknown, code: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) return code.length;
  const cp = Math.max(0, Math.floor(v));
  let i = 0;
  for (let n = 0; n < cp && i < code.length; n++) i += (code.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  return Math.min(i, code.length);
}
function toCodePoints(code: string, index: number): number {
  let n = 0;
  for (let i = 0; i < index; n++) i += (code.codePointAt(i) ?? 0) > 0xffff ? 2 : 1;
  return n;
}
function isStringMap(v: unknown): v is Record<string, string> {
  return !!v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}
/**
 * A history search pattern (`*` any run, `?` one character) against a whole cell. Iterative, with
 * one backtrack point (the last `*`): O(pattern × text) at worst. A regular expression built from
 * the glob backtracks exponentially on patterns such as `*a*a*a…b`, on the kernel's main thread,
 * where the heartbeat must keep answering.
 */
export function globMatch(glob: string, text: string): boolean {
  let g = 0, t = 0, star = -1, resume = 0;
  while (t < text.length) {
    if (g < glob.length && glob[g] === "*") { star = g++; resume = t; }
    else if (g < glob.length && (glob[g] === "?" || glob[g] === text[t])) { g++; t++; }
    else if (star >= 0) { g = star + 1; t = ++resume; }
    else return false;
  }
  while (g < glob.length && glob[g] === "*") g++;
  return g === glob.length;
}
