// The back ends by name: the one place that chooses between them. Everything that runs programs
// (the CLI, the Jupyter kernel, the model host, the tests) asks here for an Executor.

import { InterpreterExecutor } from "../interpreter/executor.js";
import type { BackendName, Executor, ExecutorOptions } from "../runtime/executor.js";

export type { BackendName, Executor, ExecutorOptions };

export interface BackendInfo {
  summary: string;
  /** What the back end's `prepare` does before a program runs, for a progress display (nothing: undefined). */
  building?: string;
  /** Prompt positions a model prefills per chunk on this back end (see models/causal-lm.ts). */
  prefillRows: number;
  /**
   * The longest last partial chunk of a prompt that runs as decode steps rather than as a padded
   * prefill chunk (CausalLM.prefill): a chunk costs about as much as this many decode steps or more.
   */
  decodeTail: number;
  /** Whether this back end can run on this machine now (a C++ compiler and Eigen for eigen). */
  available(): Promise<string | undefined>;
  create(opts: ExecutorOptions & Record<string, unknown>): Promise<Executor>;
}

export const BACKENDS: Record<BackendName, BackendInfo> = {
  interp: {
    summary: "the reference interpreter (TypeScript; the definition of every intrinsic)",
    prefillRows: 16, // less padding work for short prompts
    decodeTail: 4, // GPT-2 124M: a 16-row chunk ~300 ms, a decode step ~40
    available: async () => undefined,
    create: async (opts) => new InterpreterExecutor(opts),
  },
  eigen: {
    summary: "compiled to C++/Eigen with g++, loaded as a shared object",
    building: "compiling with g++ (Eigen)",
    prefillRows: 64, // each chunk reads every weight once; 64 measured faster than 32 and 128
    decodeTail: 6, // GPT-2 124M, 2 threads: a chunk 113–136 ms; a decode step f32 ~16, bf16 ~8, int8 ~5
    available: async () => (await import("../compiler/eigen/build.js")).toolchainProblem(),
    create: async (opts) => new (await import("../compiler/eigen/executor.js")).EigenExecutor(opts),
  },
};

/**
 * The reference interpreter, made synchronously: for values that must be computed now, with nothing
 * to build (the Jupyter kernel's displays and user_expressions).
 */
export function referenceExecutor(opts: ExecutorOptions = {}): Executor {
  return new InterpreterExecutor(opts);
}

/** The back end used when none is named. */
export const DEFAULT_BACKEND: BackendName = "eigen";

export const BACKEND_NAMES = Object.keys(BACKENDS) as BackendName[];

export function isBackendName(name: string): name is BackendName {
  return Object.prototype.hasOwnProperty.call(BACKENDS, name);
}

/** An executor of the named back end; unknown names are refused with the list of known ones. */
export async function createExecutor(name: string, opts: ExecutorOptions & Record<string, unknown> = {}): Promise<Executor> {
  if (!isBackendName(name)) throw new UnknownBackend(name);
  return BACKENDS[name].create(opts);
}

/**
 * The back end to use: the one named, else `fallback`; when the fallback cannot run here (no C++
 * compiler), the interpreter, with a note. A named back end is never replaced.
 */
export async function chooseBackend(named: string | undefined, fallback: BackendName = DEFAULT_BACKEND, note: (m: string) => void = () => {}): Promise<BackendName> {
  if (named !== undefined) {
    if (!isBackendName(named)) throw new UnknownBackend(named);
    return named;
  }
  const problem = await BACKENDS[fallback].available();
  if (problem === undefined) return fallback;
  note(`note: the ${fallback} back end is not available here (${problem}); running on the interpreter instead`);
  return "interp";
}

export class UnknownBackend extends Error {
  constructor(readonly backendName: string) {
    super(`unknown backend '${backendName}' (${BACKEND_NAMES.join(" or ")})`);
  }
}
