// A session: programs run one after another against persistent definitions and tensors.
// `tensorcore run` uses a one-program session; the Jupyter kernel keeps one per notebook.

import { checkSources, Environment, emptyEnvironment } from "../compiler/checker.js";
import { DiagnosticError } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { Interpreter, InterpreterOptions, RunIO } from "../interpreter/interpreter.js";
import { TensorView } from "./tensor.js";

export interface RunOptions {
  interrupt?: Int32Array;
  callHook?: InterpreterOptions["callHook"];
  maxSteps?: number;
}

export class Session {
  readonly env: Environment = emptyEnvironment();
  readonly tensors = new Map<IR.TensorVar, TensorView>();
  private readonly sharedMemory: boolean;

  constructor(opts: { sharedMemory?: boolean } = {}) {
    this.sharedMemory = opts.sharedMemory ?? false;
  }

  /** Check a program against the session's definitions; throws DiagnosticError on any error. */
  check(files: SourceFile[]): IR.Program {
    const { program, diagnostics } = checkSources(files, this.env);
    if (diagnostics.hasErrors) throw new DiagnosticError(diagnostics.items);
    return program;
  }

  /** Check, define and run one program (a notebook cell, or a whole file). */
  run(files: SourceFile[] | SourceFile, io: RunIO, opts: RunOptions = {}): IR.Program {
    const program = this.check(Array.isArray(files) ? files : [files]);
    this.define(program);
    this.interpreter(io, opts).runTopLevel(program);
    return program;
  }

  /** Make a checked program's definitions visible to later programs (a cell may redefine names). */
  define(program: IR.Program): void {
    for (const [k, v] of program.consts) this.env.consts.set(k, v);
    for (const [k, v] of program.types) this.env.types.set(k, v);
    for (const k of program.kernels) this.env.kernels.set(k.name, k);
    for (const v of program.sessionVars) this.env.tensors.set(v.name, v);
  }

  interpreter(io: RunIO, opts: RunOptions = {}): Interpreter {
    return new Interpreter({
      io,
      session: { get: (v) => this.tensors.get(v), set: (v, t) => void this.tensors.set(v, t) },
      interrupt: opts.interrupt,
      callHook: opts.callHook,
      maxSteps: opts.maxSteps,
      sharedMemory: this.sharedMemory,
    });
  }

  /** The current value of a session tensor by name. */
  tensor(name: string): { v: IR.TensorVar; value: TensorView } | undefined {
    const v = this.env.tensors.get(name);
    const value = v && this.tensors.get(v);
    return v && value ? { v, value } : undefined;
  }

  /** Forget everything (%reset). */
  reset(): void {
    this.env.consts.clear();
    this.env.types.clear();
    this.env.kernels.clear();
    this.env.tensors.clear();
    this.tensors.clear();
  }
}
