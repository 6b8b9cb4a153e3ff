// The reference interpreter as an Executor: every statement, top-level or in a kernel, walked
// over typed arrays (interpreter.ts). With `parallel`, large f32 products run on a thread pool
// over weights kept in the WebAssembly heap (bit-identical to one thread).

import { TensorType } from "../compiler/types.js";
import * as IR from "../compiler/ir.js";
import { Executor, ExecutorOptions, RunIO } from "../runtime/executor.js";
import type { RawProfile } from "../runtime/profile.js";
import { TensorStore } from "../runtime/session.js";
import { allocTensor, TensorView } from "../runtime/tensor.js";
import { Interpreter } from "./interpreter.js";
import { matmulPool } from "./fast/parallel.js";
import { toWasmHeap } from "./fast/wasm-kernels.js";

export class InterpreterExecutor implements Executor {
  readonly backend = "interp" as const;
  private readonly interpreter: Interpreter;

  constructor(private readonly opts: ExecutorOptions = {}) {
    const parallel = opts.parallel ?? false;
    this.interpreter = new Interpreter({
      interrupt: opts.interrupt,
      maxSteps: opts.maxSteps,
      sharedMemory: parallel,
      parallelMatmul: parallel ? matmulPool().hook : undefined,
      profile: opts.profile,
    });
  }

  async prepare(): Promise<void> {
    // Nothing to build: the interpreter runs the checked IR as it is.
  }

  runKernel(kernel: IR.Kernel, args: TensorView[], io: RunIO): void {
    this.interpreter.runKernel(kernel, args, io);
  }

  runTopLevel(program: IR.Program, store: TensorStore, io: RunIO): void {
    this.interpreter.runTopLevel(program, store, io);
  }

  alloc(type: Pick<TensorType, "precision" | "shape" | "layout">): TensorView {
    return allocTensor(type, this.opts.parallel ?? false);
  }

  adoptWeight(key: string, value: TensorView): TensorView {
    return this.opts.parallel ? toWasmHeap(value, key) : value;
  }

  describe(): string {
    return this.opts.parallel ? `interp (products on ${matmulPool().threads} threads)` : "interp";
  }

  profile(): RawProfile | undefined {
    const raw = this.interpreter.profile();
    return raw && { ...raw, backend: this.describe() };
  }

  resetProfile(): void {
    this.interpreter.resetProfile();
  }

  close(): void {
    // The thread pool is shared by every interpreter in the process and ends with it.
  }
}
