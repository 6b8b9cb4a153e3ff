// The Engine the handlers use in the kernel process: a proxy for the LanguageEngine running in
// a worker thread (worker.ts). It interrupts through a shared flag, and it replaces the worker
// when the worker dies (out of memory, a crash) or when compiled code ignores an interrupt:
// that cell fails, the kernel lives on, and the new worker gets back what can be rebuilt without
// running anything: the consts, types and kernels of the cells that had succeeded (their source is
// replayed, definitions only). Tensor values cannot be rebuilt; the failed cell's message names
// each lost tensor and any definition that could not be restored.

import { Worker } from "node:worker_threads";
import { Engine } from "./handlers.js";
import { CompleteResult, ExecuteOutcome, ExecuteRequest, InspectResult, IsCompleteResult, KernelInfo, OutputEvent } from "./protocol.js";
import { isComplete, kernelInfo } from "./syntax.js";
import type { WorkerReply, WorkerRequest } from "./worker.js";
import type { SessionNames } from "./engine.js";

export interface WorkerEngineOptions {
  log?(line: string): void;
  /** How long an interrupted cell may take to stop before its worker is replaced. */
  interruptGraceMs?: number;
  /** V8 heap limit of the worker (typed-array data is outside it). */
  maxHeapMb?: number;
}

interface Pending {
  op: WorkerRequest["op"];
  resolve(v: unknown): void;
  emit?(e: OutputEvent): void;
}

type Omit2<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;

export class WorkerEngine implements Engine {
  private worker!: Worker;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private executing: number | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private killedFor: string | undefined;
  private closed = false;
  /** The source of every cell that succeeded (or failed only at run time) since the last %reset, replayed after a crash. */
  private readonly replay: string[] = [];
  private replayChars = 0;
  /** The replay grew past MAX_REPLAY_CHARS and was dropped (a part of it would replay a different session). */
  private replayDropped = false;
  /** The session's names as the worker last reported them. */
  private names: SessionNames | undefined;
  /** How many workers have been started (1 + replacements), for tests and logs. */
  generation = 0;

  constructor(private readonly opts: WorkerEngineOptions = {}) {
    this.spawn();
  }

  private spawn(): void {
    this.generation++;
    Atomics.store(this.flag, 0, 0);
    const w = new Worker(new URL("./worker.js", import.meta.url), {
      workerData: { interrupt: this.flag.buffer },
      resourceLimits: { maxOldGenerationSizeMb: this.opts.maxHeapMb ?? 4096 },
      stdout: false,
      stderr: false,
    });
    this.worker = w;
    let lastError: string | undefined;
    w.on("message", (m: WorkerReply) => {
      if ("ready" in m) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      if ("event" in m) { p.emit?.(m.event as OutputEvent); return; }
      this.pending.delete(m.id);
      if (m.names) this.names = m.names;
      if (m.id === this.executing) this.cellDone();
      p.resolve(m.result);
    });
    w.on("error", (e) => { lastError = (e as NodeJS.ErrnoException).code === "ERR_WORKER_OUT_OF_MEMORY" ? "it ran out of memory" : `it crashed: ${e.message}`; });
    w.on("exit", (code) => {
      if (w !== this.worker) return;
      const why = this.killedFor ?? lastError ?? `it exited with code ${code}`;
      this.killedFor = undefined;
      if (!this.closed) this.opts.log?.(`worker ${this.generation} stopped: ${why}`);
      this.cellDone();
      const lost = [...this.pending.values()];
      this.pending.clear();
      if (this.closed) { for (const p of lost) p.resolve(this.failed(p.op, why)); return; }
      const before = this.names;
      this.spawn();
      // Answer the lost requests once the new worker has its definitions back (so the message is exact).
      void this.restore().then((after) => { for (const p of lost) p.resolve(this.failed(p.op, why, before, after)); });
    });
  }

  private dropReplay(tooLarge: boolean): void {
    this.replay.length = 0;
    this.replayChars = 0;
    this.replayDropped = tooLarge;
    if (tooLarge) this.opts.log?.(`the session's cells passed ${MAX_REPLAY_CHARS} characters: they are no longer kept to replay after a crash (until %reset)`);
  }

  /** Replay the succeeded cells' definitions into a fresh worker; the names it then has (undefined if that failed). */
  private async restore(): Promise<SessionNames | undefined> {
    this.names = { tensors: [], kernels: [], types: [], consts: [] };
    if (!this.replay.length) return this.names;
    const failedCells = await this.call<number | undefined>({ op: "restore", cells: this.replay.slice() });
    if (typeof failedCells !== "number") {
      // the new worker died while restoring: start clean rather than loop
      this.replay.length = 0;
      return undefined;
    }
    if (failedCells) this.opts.log?.(`restoring the session: ${failedCells} cell(s) could not be replayed`);
    return this.names;
  }

  /** What a crash lost: every tensor, and the definitions the replay did not bring back. */
  private lossReport(before: SessionNames | undefined, after: SessionNames | undefined): string[] {
    if (!before) return ["The session state was lost: definitions and tensors of earlier cells must be run again."];
    if (!after) return ["The session state was lost (restoring its definitions failed): definitions and tensors of earlier cells must be run again."];
    const lines: string[] = [];
    lines.push(before.tensors.length
      ? `Lost tensors (run the cells that compute them again): ${before.tensors.map(([n, size]) => `${n} (${size})`).join(", ")}.`
      : "No session tensors were lost.");
    const kinds: [keyof Omit<SessionNames, "tensors">, string][] = [["kernels", "kernel"], ["types", "type"], ["consts", "const"]];
    const restored: string[] = [], missing: string[] = [];
    for (const [k, word] of kinds) {
      const have = new Set(after[k]);
      for (const n of before[k]) (have.has(n) ? restored : missing).push(`${word} ${n}`);
    }
    if (restored.length) lines.push(`Restored by replaying the definitions of the cells that succeeded: ${restored.join(", ")}.`);
    if (missing.length) lines.push(`Not restored (run their cells again): ${missing.join(", ")}.`);
    return lines;
  }

  private failed(op: Pending["op"], why: string, before?: SessionNames, after?: SessionNames): unknown {
    if (op === "restore") return undefined;
    if (op === "execute") {
      const interrupted = why.startsWith("interrupted");
      const outcome: ExecuteOutcome = {
        status: "error",
        error: {
          ename: interrupted ? "Interrupted" : "WorkerDied",
          evalue: why,
          traceback: [
            interrupted
              ? `Interrupted: the cell did not stop within ${this.opts.interruptGraceMs ?? 800} ms, so its worker was replaced.`
              : `WorkerDied: the cell was lost because ${why}.`,
            ...this.lossReport(before, after),
          ],
        },
      };
      return outcome;
    }
    if (op === "complete") return { matches: [], cursor_start: 0, cursor_end: 0, metadata: {} } satisfies CompleteResult;
    return { found: false, data: {}, metadata: {} } satisfies InspectResult;
  }

  private cellDone(): void {
    this.executing = undefined;
    if (this.watchdog) clearTimeout(this.watchdog);
    this.watchdog = undefined;
  }

  private call<T>(req: Omit2<WorkerRequest, "id">, emit?: (e: OutputEvent) => void): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve) => {
      this.pending.set(id, { op: req.op, resolve: resolve as (v: unknown) => void, emit });
      if (req.op === "execute") this.executing = id;
      this.worker.postMessage({ ...req, id });
    });
  }

  kernelInfo(): KernelInfo { return kernelInfo(); }
  isComplete(code: string): IsCompleteResult { return isComplete(code); }

  async execute(req: ExecuteRequest, emit: (e: OutputEvent) => void): Promise<ExecuteOutcome> {
    const outcome = await this.call<ExecuteOutcome>({ op: "execute", req: { code: req.code, user_expressions: req.user_expressions, execution_count: req.execution_count, silent: req.silent } }, emit);
    // A cell that failed while running (a fault, an interrupt) had made its definitions first.
    if (outcome.status === "ok" || outcome.error?.ename === "RuntimeFault" || outcome.error?.ename === "Interrupted") {
      if (/^\s*%reset\b/m.test(req.code)) this.dropReplay(false); // the replay re-applies the %reset itself too
      if (!this.replayDropped) {
        this.replay.push(req.code);
        this.replayChars += req.code.length;
        // bounded: past it, a crash restores no definitions (the loss report names them) rather than
        // the kernel keeping every cell's source for the whole session
        if (this.replayChars > MAX_REPLAY_CHARS) this.dropReplay(true);
      }
    }
    return outcome;
  }
  complete(code: string, cursor: number): Promise<CompleteResult> {
    return this.call<CompleteResult>({ op: "complete", code, cursor });
  }
  inspect(code: string, cursor: number, detail: number): Promise<InspectResult> {
    return this.call<InspectResult>({ op: "inspect", code, cursor, detail });
  }

  interrupt(): void {
    if (this.executing === undefined) return;
    Atomics.store(this.flag, 0, 1);
    if (this.watchdog) return;
    // The interpreter sees the flag at its next loop iteration or call; native code may not.
    const target = this.worker;
    this.watchdog = setTimeout(() => {
      this.watchdog = undefined;
      if (this.executing === undefined || target !== this.worker) return;
      this.killedFor = "interrupted: the running code did not check the interrupt flag";
      void target.terminate();
    }, this.opts.interruptGraceMs ?? 800);
  }

  async shutdown(): Promise<void> {
    this.closed = true;
    this.cellDone();
    await this.worker.terminate();
  }
}
/** The most cell source (characters) kept to replay after a worker crash. */
const MAX_REPLAY_CHARS = 64 << 20;

