// The one interface every back end implements. The CLI, the Jupyter kernel, the model host and
// the tests run programs only through it; `backends/index.ts` makes one by back-end name.

import * as IR from "../compiler/ir.js";
import { shapeToString, TensorType } from "../compiler/types.js";
import type { RawProfile } from "./profile.js";
import { TensorStore } from "./session.js";
import { TensorView } from "./tensor.js";

/** Where a running program's output goes. */
export interface RunIO {
  /** A line the program printed (REDUCE(x)). */
  print(line: string): void;
  /** The value of a top-level bare expression. */
  show?(value: TensorView, expr: IR.Expr): void;
}

export type BackendName = "interp" | "eigen";

export interface ExecutorOptions {
  /** Element 0 set to non-zero (from any thread) stops the run at the next loop iteration or call. */
  interrupt?: Int32Array;
  /** Progress and warnings (the compiled back end's builds). */
  log?: (message: string) => void;
  /** Threads for large products (default: TENSORCORE_THREADS, the target's `threads`, else all cores). */
  threads?: number;
  /**
   * Many calls over the same large weights (a model host): the interpreter then splits large
   * products over a thread pool and keeps weights in its WebAssembly heap.
   */
  parallel?: boolean;
  /** An execution budget in steps (the interpreter; for hosts that run generated programs). */
  maxSteps?: number;
  /**
   * Count calls and time per kernel and per statement (tensorcore profile, %profile). Off by default:
   * the interpreter then runs no timing code, and the compiled back end builds code without timers.
   */
  profile?: boolean;
}

export interface Executor {
  readonly backend: BackendName;
  /**
   * Make these programs (their kernels and top-level statements) and kernels runnable. The
   * compiled back end builds them, as one translation unit, before anything runs.
   */
  prepare(items: (IR.Program | IR.Kernel)[]): Promise<void>;
  /** Run a kernel with its parameters bound to these tensors (shapes and precisions must match). */
  runKernel(kernel: IR.Kernel, args: TensorView[], io: RunIO): void;
  /** Run a prepared program's top-level statements against a session's tensors. */
  runTopLevel(program: IR.Program, store: TensorStore, io: RunIO): void;
  /** A tensor this back end runs on directly (shared memory where its threads need it). */
  alloc(type: Pick<TensorType, "precision" | "shape" | "layout">): TensorView;
  /** A weight bound once and used by many calls; `key` names it across reloads. */
  adoptWeight(key: string, value: TensorView): TensorView;
  /** One line on how this back end runs here (e.g. the compiled product path and threads). */
  describe(): string;
  /** Release native libraries and threads. */
  close(): void;
  /** What was counted since the last reset (executors made with `profile: true`; else undefined). */
  profile?(): RawProfile | undefined;
  resetProfile?(): void;
}

/** Check arguments against a kernel's parameters: the same message on every back end. */
export function checkArgs(kernel: IR.Kernel, args: TensorView[], fault: (span: IR.Kernel["span"], message: string) => Error): void {
  if (args.length !== kernel.params.length) throw fault(kernel.span, `kernel '${kernel.name}' takes ${kernel.params.length} arguments, got ${args.length}`);
  kernel.params.forEach((p, i) => {
    const a = args[i];
    if (a.precision !== p.type.precision || a.shape.length !== p.type.shape.length || a.shape.some((d, j) => d !== p.type.shape[j])) {
      throw fault(p.span, `parameter '${p.name}' expects ${p.type.precision} ${shapeToString(p.type.shape)}, but was given ${a.precision} ${shapeToString(a.shape)}`);
    }
  });
}
