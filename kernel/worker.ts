// The worker thread that owns the session. The message loop (main thread) stays free while a
// cell runs here, so heartbeat, control and interrupt keep answering; an interrupt is a shared
// flag the interpreter polls. If this thread dies (out of memory, a crash), only the cell is lost.

import { parentPort, workerData } from "node:worker_threads";
import { LanguageEngine } from "./engine.js";
import { CellRequest, SessionNames } from "./engine.js";

export type WorkerRequest =
  | { id: number; op: "execute"; req: CellRequest }
  | { id: number; op: "complete"; code: string; cursor: number }
  | { id: number; op: "inspect"; code: string; cursor: number; detail: number }
  | { id: number; op: "restore"; cells: string[] };

/** Results of "execute" and "restore" carry the session's names, so a crash can say what was lost. */
export type WorkerReply = { id: number; event: unknown } | { id: number; result: unknown; names?: SessionNames } | { ready: true };

if (parentPort) {
  const port = parentPort;
  const data = workerData as { interrupt: SharedArrayBuffer };
  const engine = new LanguageEngine({
    interrupt: new Int32Array(data.interrupt),
    log: (l) => process.stderr.write(`[tensorcore worker] ${l}\n`),
  });
  port.on("message", async (m: WorkerRequest) => {
    let result: unknown;
    let names: SessionNames | undefined;
    switch (m.op) {
      case "execute":
        result = await engine.execute(m.req, (event) => port.postMessage({ id: m.id, event }));
        names = engine.names();
        break;
      case "restore":
        result = engine.restoreDefinitions(m.cells);
        names = engine.names();
        break;
      case "complete":
        result = engine.complete(m.code, m.cursor);
        break;
      case "inspect":
        result = engine.inspect(m.code, m.cursor, m.detail);
        break;
    }
    port.postMessage({ id: m.id, result, names });
  });
  port.postMessage({ ready: true });
}
