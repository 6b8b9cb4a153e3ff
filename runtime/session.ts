// A session: programs run one after another against persistent definitions and tensors.
// `tensorcore run` uses a one-program session; the Jupyter kernel keeps one per notebook.
// The checker's environment (names) and the tensor store (values) are kept apart: any back end
// runs a session's programs against the same store.

import { checkSources, Environment, emptyEnvironment } from "../compiler/checker.js";
import { DiagnosticError } from "../compiler/diagnostics.js";
import * as IR from "../compiler/ir.js";
import { SourceFile } from "../compiler/source.js";
import { bytesPerElement } from "../compiler/types.js";
import type { Executor, RunIO } from "./executor.js";
import { TensorView } from "./tensor.js";

/** The values of a session's tensors. A tensor whose name was redeclared is released. */
export class TensorStore {
  private readonly values = new Map<IR.TensorVar, TensorView>();

  get(v: IR.TensorVar): TensorView | undefined {
    return this.values.get(v);
  }

  set(v: IR.TensorVar, t: TensorView): void {
    this.values.set(v, t);
  }

  /** Keep only these tensors' values (the ones a name still refers to). */
  retain(live: Iterable<IR.TensorVar>): void {
    const keep = new Set(live);
    for (const v of [...this.values.keys()]) if (!keep.has(v)) this.values.delete(v);
  }

  clear(): void {
    this.values.clear();
  }

  /** Bytes of storage held (views of one storage counted once). */
  bytes(): number {
    const seen = new Set<ArrayBufferLike>();
    let n = 0;
    for (const t of this.values.values()) {
      if (seen.has(t.data.buffer)) continue;
      seen.add(t.data.buffer);
      n += t.data.length * bytesPerElement(t.precision);
    }
    return n;
  }
}

export class Session {
  readonly env: Environment = emptyEnvironment();
  readonly store = new TensorStore();

  /** Check a program against the session's definitions; throws DiagnosticError on any error. */
  check(files: SourceFile[]): IR.Program {
    const { program, diagnostics } = checkSources(files, this.env);
    if (diagnostics.hasErrors) throw new DiagnosticError(diagnostics.items, diagnostics.dropped);
    return program;
  }

  /** Check, prepare, define and run one program (a notebook cell, or a whole file). */
  async run(files: SourceFile[] | SourceFile, executor: Executor, io: RunIO): Promise<IR.Program> {
    const program = this.check(Array.isArray(files) ? files : [files]);
    await executor.prepare([program]);
    this.runPrepared(program, executor, io);
    return program;
  }

  /** Define and run a checked program that the executor has prepared. */
  runPrepared(program: IR.Program, executor: Executor, io: RunIO): void {
    this.define(program);
    try {
      executor.runTopLevel(program, this.store, io);
    } finally {
      this.collect();
    }
  }

  /** Make a checked program's definitions visible to later programs (a cell may redefine names). */
  define(program: IR.Program): void {
    for (const [k, v] of program.consts) this.env.consts.set(k, v);
    for (const [k, v] of program.types) this.env.types.set(k, v);
    for (const k of program.kernels) this.env.kernels.set(k.name, k);
    for (const v of program.sessionVars) this.env.tensors.set(v.name, v);
  }

  /** Release the values of tensors no name refers to any more (after a program redeclared them). */
  collect(): void {
    this.store.retain(this.env.tensors.values());
  }

  /** The current value of a session tensor by name. */
  tensor(name: string): { v: IR.TensorVar; value: TensorView } | undefined {
    const v = this.env.tensors.get(name);
    const value = v && this.store.get(v);
    return v && value ? { v, value } : undefined;
  }

  /** Forget everything (%reset). */
  reset(): void {
    this.env.consts.clear();
    this.env.types.clear();
    this.env.kernels.clear();
    this.env.tensors.clear();
    this.store.clear();
  }
}
