// Helpers shared by the eigen differential tests: deterministic inputs, running a kernel on both
// back ends, and comparing results under the tolerances documented in docs/compiler.md.

import * as IR from "../../compiler/ir.js";
import { elementCount } from "../../compiler/types.js";
import { createExecutor } from "../../backends/index.js";
import type { EigenExecutor, EigenOptions } from "../../compiler/eigen/executor.js";
import { Executor } from "../../runtime/executor.js";
import { encoder } from "../../runtime/precision.js";
import { allocTensor, TensorView, toNumbers } from "../../runtime/tensor.js";
import { ParamInit, Rng } from "./random-programs.js";

export function makeInputs(kernel: IR.Kernel, init: Record<string, ParamInit> | undefined, seed: number): TensorView[] {
  const rng = new Rng(seed);
  return kernel.params.map((p) => {
    const t = allocTensor(p.type);
    const enc = encoder(p.type.precision);
    const ini = init?.[p.name] ?? { kind: "float", scale: 1 };
    for (let i = 0; i < elementCount(p.type.shape); i++) {
      const v = ini.kind === "float" ? (rng.next() * 2 - 1) * ini.scale : rng.int(ini.lo, ini.hi);
      t.data[i] = enc(v) as never;
    }
    return t;
  });
}

export const cloneViews = (vs: TensorView[]): TensorView[] => vs.map((v) => ({ ...v, data: v.data.slice(), shape: [...v.shape], strides: [...v.strides] }));

export interface RunResult { prints: string[]; params: TensorView[]; error?: string }

/** The reference interpreter every differential test compares against. */
export const reference: Executor = await createExecutor("interp");

/** A compiled back end with these programs or kernels built (one translation unit). */
export async function eigenFor(items: (IR.Program | IR.Kernel)[], opts: EigenOptions = {}): Promise<EigenExecutor> {
  const e = (await createExecutor("eigen", opts as Record<string, unknown>)) as EigenExecutor;
  await e.prepare(items);
  return e;
}

export const runInterp = (kernel: IR.Kernel, args: TensorView[]): RunResult => runOn(reference, kernel, args);
export const runEigen = (be: Executor, kernel: IR.Kernel, args: TensorView[]): RunResult => runOn(be, kernel, args);

/** Run a kernel on any back end, collecting prints and the error message (if it fails). */
export function runOn(executor: Executor, kernel: IR.Kernel, args: TensorView[]): RunResult {
  const prints: string[] = [];
  try {
    executor.runKernel(kernel, args, { print: (l) => prints.push(l) });
  } catch (e) {
    return { prints, params: args, error: (e as Error).message };
  }
  return { prints, params: args };
}

const ulp16 = (p: string, x: number): number => {
  const a = Math.abs(x);
  if (p === "f16") return a < 6.103515625e-5 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
  return a < 1.1754943508222875e-38 ? 2 ** -133 : 2 ** (Math.floor(Math.log2(a)) - 7);
};

/**
 * Compare one value. ints: exact. f32: exact, or (libm vs V8 exp/log/tanh rounding) within
 * `f32rel`·|ref|. f16/bf16: exact or within `ulps` of the 16-bit format. NaN/±inf positions exact.
 */
export function close(p: string, got: number, ref: number, f32rel: number, ulps: number): boolean {
  if (Object.is(got, ref) || got === ref) return true;
  if (Number.isNaN(got) || Number.isNaN(ref)) return Number.isNaN(got) && Number.isNaN(ref);
  if (!Number.isFinite(got) || !Number.isFinite(ref)) return false;
  if (p === "int32" || p === "int8") return false;
  const d = Math.abs(got - ref);
  if (p === "f32") return d <= f32rel * Math.abs(ref) || d <= 1e-30;
  return d <= ulps * ulp16(p, Math.max(Math.abs(ref), Math.abs(got)));
}

export function compareRuns(a: RunResult, b: RunResult, names: string[], f32rel = 1e-6, ulps = 1): string | undefined {
  if (a.error || b.error) return a.error === b.error ? undefined : `errors differ: interp=${a.error} eigen=${b.error}`;
  if (a.prints.length !== b.prints.length) return `prints differ: ${JSON.stringify(a.prints)} vs ${JSON.stringify(b.prints)}`;
  for (let i = 0; i < a.prints.length; i++) {
    if (a.prints[i] === b.prints[i]) continue;
    const x = Number(a.prints[i]), y = Number(b.prints[i]);
    if (!(Math.abs(x - y) <= 2e-5 * Math.abs(x))) return `print ${i} differs: ${a.prints[i]} vs ${b.prints[i]}`;
  }
  for (let i = 0; i < a.params.length; i++) {
    const p = a.params[i].precision;
    const ra = toNumbers(a.params[i]), rb = toNumbers(b.params[i]);
    for (let j = 0; j < ra.length; j++) {
      if (!close(p, rb[j], ra[j], f32rel, ulps)) return `param ${names[i]} (${p}) element ${j}: interp ${ra[j]} vs eigen ${rb[j]}`;
    }
  }
  return undefined;
}
