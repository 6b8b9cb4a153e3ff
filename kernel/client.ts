// A minimal Jupyter client over ZeroMQ, for the protocol tests and the bench: starts a kernel
// process on a fresh connection file and talks to it with Dealer/Subscriber/Request sockets.

import { ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as zmq from "zeromq";
import { JsonObject, Message, makeHeader } from "./protocol.js";
import { DELIMITER, decode, encode, Signer } from "./wire.js";
import type { ConnectionInfo } from "./transport.js";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

type ClientChannel = "shell" | "control" | "stdin";

export interface StartOptions {
  key?: string;
  scheme?: string;
  env?: NodeJS.ProcessEnv;
  /** Where kernel stderr goes ("inherit" to see it, default: kept in `stderr`). */
  stderr?: "inherit" | "pipe";
}

export class KernelClient {
  readonly signer: Signer;
  private readonly sockets: Record<ClientChannel, zmq.Dealer>;
  private readonly iopub = new zmq.Subscriber();
  private readonly hb = new zmq.Request({ receiveTimeout: 2000 });
  private readonly replies = new Map<string, (m: Message) => void>();
  private readonly iopubByParent = new Map<string, Message[]>();
  private readonly idleWaiters = new Map<string, () => void>();
  readonly session = randomUUID();
  stderr = "";
  exited: Promise<number | null>;
  private hbBusy: Promise<unknown> = Promise.resolve();

  private constructor(readonly info: ConnectionInfo, readonly proc: ChildProcess, private readonly dir: string) {
    this.signer = new Signer(info.key, info.signature_scheme);
    this.sockets = { shell: new zmq.Dealer(), control: new zmq.Dealer(), stdin: new zmq.Dealer() };
    this.exited = new Promise((r) => proc.on("exit", (code) => r(code)));
  }

  static async start(opts: StartOptions = {}): Promise<KernelClient> {
    const dir = mkdtempSync(join(tmpdir(), "tc-kernel-"));
    const [shell_port, control_port, iopub_port, stdin_port, hb_port] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const info: ConnectionInfo = {
      transport: "tcp", ip: "127.0.0.1", shell_port, control_port, iopub_port, stdin_port, hb_port,
      key: opts.key ?? randomBytes(16).toString("hex"), signature_scheme: opts.scheme ?? "hmac-sha256",
    };
    const file = join(dir, "kernel.json");
    writeFileSync(file, JSON.stringify(info));
    const main = join(dirname(fileURLToPath(import.meta.url)), "main.js");
    const proc = spawn(process.execPath, [main, "-f", file], { env: { ...process.env, ...opts.env }, stdio: ["ignore", "ignore", opts.stderr ?? "pipe"] });
    const c = new KernelClient(info, proc, dir);
    proc.stderr?.on("data", (d) => { c.stderr += d.toString(); });
    await c.connect();
    return c;
  }

  private async connect(): Promise<void> {
    const url = (p: number) => `tcp://${this.info.ip}:${p}`;
    this.sockets.shell.connect(url(this.info.shell_port));
    this.sockets.control.connect(url(this.info.control_port));
    this.sockets.stdin.connect(url(this.info.stdin_port));
    this.iopub.connect(url(this.info.iopub_port));
    this.iopub.subscribe();
    this.hb.connect(url(this.info.hb_port));
    for (const ch of ["shell", "control", "stdin"] as const) void this.readReplies(this.sockets[ch]);
    void this.readIopub();
    // Until the kernel answers and iopub is joined (status messages arrive), ask again.
    const deadline = Date.now() + 20000;
    for (;;) {
      const m = this.message("kernel_info_request", {});
      const idle = this.waitIdle(m.header.msg_id, 20000).catch(() => undefined);
      await this.sendMessage("shell", m);
      const got = await Promise.race([
        idle.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
      ]);
      if (got) return;
      if (Date.now() > deadline) throw new Error(`the kernel did not answer: ${this.stderr}`);
    }
  }

  private async readReplies(sock: zmq.Dealer): Promise<void> {
    try {
      for await (const frames of sock) {
        const r = decode(frames as Buffer[], this.signer);
        if (!r.ok) continue;
        const parent = (r.message.parent_header as { msg_id?: string }).msg_id;
        if (parent) this.replies.get(parent)?.(r.message);
      }
    } catch { /* closed */ }
  }

  private async readIopub(): Promise<void> {
    try {
      for await (const frames of this.iopub) {
        const r = decode(frames as Buffer[], this.signer);
        if (!r.ok) continue;
        const parent = (r.message.parent_header as { msg_id?: string }).msg_id ?? "";
        let list = this.iopubByParent.get(parent);
        if (!list) this.iopubByParent.set(parent, (list = []));
        list.push(r.message);
        if (r.message.header.msg_type === "status" && r.message.content.execution_state === "idle") this.idleWaiters.get(parent)?.();
      }
    } catch { /* closed */ }
  }

  message(msgType: string, content: JsonObject): Message {
    return { identities: [], header: makeHeader(msgType, this.session, "test"), parent_header: {}, metadata: {}, content, buffers: [] };
  }

  private readonly sendChains = new Map<zmq.Dealer, Promise<void>>();
  async sendFrames(channel: ClientChannel, frames: Buffer[]): Promise<void> {
    const sock = this.sockets[channel];
    const next = (this.sendChains.get(sock) ?? Promise.resolve()).then(() => sock.send(frames));
    this.sendChains.set(sock, next.catch(() => undefined));
    await next;
  }

  sendMessage(channel: ClientChannel, m: Message, signer: Signer = this.signer): Promise<void> {
    return this.sendFrames(channel, encode(m, signer));
  }

  /** Resolves when the kernel publishes status: idle for this request. */
  waitIdle(msgId: string, timeoutMs = 30000): Promise<Message[]> {
    const done = () => this.iopubByParent.get(msgId)?.some((m) => m.header.msg_type === "status" && m.content.execution_state === "idle");
    return new Promise((resolve, reject) => {
      if (done()) { resolve(this.iopubByParent.get(msgId)!); return; }
      const t = setTimeout(() => { this.idleWaiters.delete(msgId); reject(new Error(`no idle status for ${msgId} within ${timeoutMs} ms`)); }, timeoutMs);
      this.idleWaiters.set(msgId, () => { clearTimeout(t); this.idleWaiters.delete(msgId); resolve(this.iopubByParent.get(msgId)!); });
    });
  }

  waitReply(msgId: string, timeoutMs = 30000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.replies.delete(msgId); reject(new Error(`no reply to ${msgId} within ${timeoutMs} ms`)); }, timeoutMs);
      this.replies.set(msgId, (m) => { clearTimeout(t); this.replies.delete(msgId); resolve(m); });
    });
  }

  /** Send a request and wait for both its reply and its idle status; returns the reply and the iopub traffic. */
  async request(channel: ClientChannel, msgType: string, content: JsonObject, timeoutMs = 30000): Promise<{ reply: Message; iopub: Message[] }> {
    const m = this.message(msgType, content);
    const reply = this.waitReply(m.header.msg_id, timeoutMs);
    const idle = this.waitIdle(m.header.msg_id, timeoutMs);
    await this.sendMessage(channel, m);
    return { reply: await reply, iopub: await idle };
  }

  execute(code: string, extra: JsonObject = {}, timeoutMs = 30000): Promise<{ reply: Message; iopub: Message[] }> {
    return this.request("shell", "execute_request", { code, silent: false, store_history: true, user_expressions: {}, allow_stdin: false, stop_on_error: true, ...extra }, timeoutMs);
  }

  /** One heartbeat round trip in ms (throws when the kernel does not echo within 2 s). */
  async ping(): Promise<number> {
    const run = this.hbBusy.then(async () => {
      const t0 = performance.now();
      await this.hb.send("ping");
      const [echo] = await this.hb.receive();
      if (echo.toString() !== "ping") throw new Error("bad heartbeat echo");
      return performance.now() - t0;
    });
    this.hbBusy = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.proc.exitCode === null) {
      this.proc.kill("SIGTERM");
      await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000))]);
      if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    }
    for (const s of [...Object.values(this.sockets), this.iopub, this.hb]) { s.linger = 0; s.close(); }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export { DELIMITER };
