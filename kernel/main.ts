// The kernel process: `node dist/kernel/main.js -f CONNECTION_FILE` (the kernelspec's argv).
// Wires the transport (sockets), the handlers (protocol semantics) and the worker engine
// (the language) together, and maps SIGINT to an interrupt.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { KernelHandlers } from "./handlers.js";
import { WorkerEngine } from "./remote.js";
import { ConnectionInfo, ZmqTransport } from "./transport.js";
import { Signer } from "./wire.js";

function connectionFile(argv: string[]): string {
  const i = argv.findIndex((a) => a === "-f" || a === "--connection-file");
  const f = i >= 0 ? argv[i + 1] : argv.find((a) => !a.startsWith("-"));
  if (!f) {
    console.error("usage: node dist/kernel/main.js -f CONNECTION_FILE   (Jupyter starts it; see `tensorcore kernel install`)");
    process.exit(2);
  }
  return f;
}

export async function main(argv: string[]): Promise<void> {
  const verbose = !!process.env.TENSORCORE_KERNEL_DEBUG;
  const log = (line: string) => process.stderr.write(`[tensorcore kernel] ${line}\n`);
  const file = connectionFile(argv);
  let info: ConnectionInfo;
  try {
    info = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    log(`cannot read the connection file ${file}: ${(e as Error).message}`);
    process.exit(2);
  }
  const signer = new Signer(info.key ?? "", info.signature_scheme ?? "hmac-sha256");
  if (!signer.enabled) log("warning: the connection file has no key, so messages are not signed");
  const engine = new WorkerEngine({ log });
  const transport = new ZmqTransport(info, signer, log);
  let exiting = false;
  const exit = async (code: number) => {
    if (exiting) return;
    exiting = true;
    await engine.shutdown().catch(() => undefined);
    await transport.close().catch(() => undefined);
    process.exit(code);
  };
  const handlers = new KernelHandlers(engine, transport, {
    session: randomUUID(),
    log: (l) => (verbose || !l.startsWith("error") ? log(l) : log(l.split("\n")[0])),
    onShutdown: () => void exit(0),
  });
  await transport.start((channel, msg) => {
    if (verbose) log(`${channel} <- ${msg.header.msg_type}`);
    handlers.receive(channel, msg);
  });
  process.on("SIGINT", () => engine.interrupt());
  process.on("SIGTERM", () => void exit(0));
  if (verbose) log(`listening: shell ${info.shell_port}, control ${info.control_port}, iopub ${info.iopub_port}, stdin ${info.stdin_port}, hb ${info.hb_port}`);
}

await main(process.argv.slice(2));
