// The ZeroMQ side: the five sockets of a connection file, framing through wire.ts, nothing about
// what messages mean. Incoming messages that fail verification are logged and dropped here.

import * as zmq from "zeromq";
import { Message } from "./protocol.js";
import { decode, encode, Signer } from "./wire.js";
import { Outbox } from "./handlers.js";

export interface ConnectionInfo {
  transport: string; // "tcp" or "ipc"
  ip: string;
  shell_port: number;
  control_port: number;
  iopub_port: number;
  stdin_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string;
  kernel_name?: string;
}

export type InChannel = "shell" | "control" | "stdin";

const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

function endpoint(info: ConnectionInfo, port: number): string {
  if (info.transport === "ipc") return `ipc://${info.ip}-${port}`;
  return `tcp://${info.ip}:${port === 0 ? "*" : port}`;
}

export class ZmqTransport implements Outbox {
  private readonly shell = new zmq.Router({ maxMessageSize: MAX_MESSAGE_BYTES });
  private readonly control = new zmq.Router({ maxMessageSize: MAX_MESSAGE_BYTES });
  private readonly stdin = new zmq.Router({ maxMessageSize: MAX_MESSAGE_BYTES });
  private readonly iopub = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly sendChains = new Map<zmq.Socket, Promise<void>>();
  private closed = false;
  /** Counts of dropped messages, by reason (for tests and logs). */
  readonly dropped = new Map<string, number>();

  constructor(readonly info: ConnectionInfo, private readonly signer: Signer, private readonly log: (line: string) => void = () => undefined) {}

  /** Bind every socket (port 0 picks a free one and updates info), then start reading. */
  async start(onMessage: (channel: InChannel, msg: Message) => void): Promise<void> {
    const pairs: [zmq.Socket & { bind(a: string): Promise<void>; lastEndpoint: string | null }, keyof ConnectionInfo][] = [
      [this.shell, "shell_port"], [this.control, "control_port"], [this.stdin, "stdin_port"], [this.iopub, "iopub_port"], [this.hb, "hb_port"],
    ];
    for (const [sock, key] of pairs) {
      await sock.bind(endpoint(this.info, this.info[key] as number));
      const m = /:(\d+)$/.exec(sock.lastEndpoint ?? "");
      if (m && this.info.transport !== "ipc") (this.info[key] as number) = Number(m[1]);
    }
    void this.readLoop(this.shell, "shell", onMessage);
    void this.readLoop(this.control, "control", onMessage);
    void this.readLoop(this.stdin, "stdin", onMessage);
    void this.heartbeat();
  }

  private async readLoop(sock: zmq.Router, channel: InChannel, onMessage: (c: InChannel, m: Message) => void): Promise<void> {
    try {
      for await (const frames of sock) {
        const r = decode(frames as Buffer[], this.signer);
        if (!r.ok) {
          this.dropped.set(r.reason, (this.dropped.get(r.reason) ?? 0) + 1);
          this.log(`dropped a message on ${channel}: ${r.reason}`);
          continue;
        }
        try {
          onMessage(channel, r.message);
        } catch (e) {
          this.log(`error dispatching ${r.message.header.msg_type}: ${(e as Error).stack ?? e}`);
        }
      }
    } catch (e) {
      if (!this.closed) this.log(`${channel} socket failed: ${(e as Error).message}`);
    }
  }

  /** Heartbeat: echo every ping, on the main thread's event loop (which a running cell never blocks). */
  private async heartbeat(): Promise<void> {
    try {
      for await (const frames of this.hb) await this.hb.send(frames);
    } catch (e) {
      if (!this.closed) this.log(`heartbeat socket failed: ${(e as Error).message}`);
    }
  }

  /** zeromq sockets allow one send at a time: sends on a socket are chained. */
  private send(sock: zmq.Router | zmq.Publisher, frames: Buffer[]): void {
    if (this.closed) return;
    const prev = this.sendChains.get(sock) ?? Promise.resolve();
    const next = prev.then(() => sock.send(frames)).catch((e) => { if (!this.closed) this.log(`send failed: ${(e as Error).message}`); });
    this.sendChains.set(sock, next);
  }

  reply(channel: InChannel, msg: Message): void {
    this.send(channel === "shell" ? this.shell : channel === "control" ? this.control : this.stdin, encode(msg, this.signer));
  }

  publish(msg: Message): void {
    const topic = Buffer.from(`kernel.${msg.header.session}.${msg.header.msg_type}`);
    this.send(this.iopub, encode({ ...msg, identities: [topic] }, this.signer));
  }

  /** Wait for queued sends (the shutdown reply) to go out, then close every socket. */
  async close(): Promise<void> {
    await Promise.all([...this.sendChains.values()]);
    this.closed = true;
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) {
      s.linger = 200;
      s.close();
    }
  }
}
