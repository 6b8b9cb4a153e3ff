// Run a program as `tensorcore run` does: its top-level statements, then its entry kernel with
// parameters bound from a weight source (unbound ones filled with a default). The CLI and the
// tests both use this, on any back end.

import { entryKernel } from "../compiler/entry.js";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { Executor, RunIO } from "../runtime/executor.js";
import { Session } from "../runtime/session.js";
import { TensorView } from "../runtime/tensor.js";
import { bindParam, WeightSource } from "../runtime/weights.js";

export interface RunProgramOptions {
  /** The entry kernel's name (default: the last kernel of the last file). */
  kernel?: string;
  /** Where the entry kernel's parameters come from. */
  inputs?: WeightSource;
  /** The value of parameters the inputs do not bind. */
  fill?: number;
  /** Lines printed by REDUCE(x), as they come. */
  print?: (line: string) => void;
  show?: RunIO["show"];
}

export interface ProgramResult {
  program: IR.Program;
  kernel?: IR.Kernel;
  /** The entry kernel's parameters after the run, by name. */
  params: Map<string, TensorView>;
}

export async function runProgram(files: SourceFile[], executor: Executor, opts: RunProgramOptions = {}): Promise<ProgramResult> {
  const io: RunIO = { print: opts.print ?? (() => {}), show: opts.show };
  const session = new Session();
  const program = await session.run(files, executor, io);
  const kernel = program.kernels.length || opts.kernel !== undefined ? entryKernel(program, opts.kernel) : undefined;
  const params = new Map<string, TensorView>();
  if (kernel) {
    const args = kernel.params.map((p) => bindParam(p.name, p.type, opts.inputs, opts.fill ?? 0.5, p.span));
    executor.runKernel(kernel, args, io);
    kernel.params.forEach((p, i) => params.set(p.name, args[i]));
  }
  return { program, kernel, params };
}
