// Which kernel a program runs when none is named: one rule for `run`, `compile --main` and tests.

import * as IR from "./ir.js";

/**
 * The kernel named, or else the last kernel defined in the last file that defines one (in source
 * order). Undefined when the program defines no kernel and none is named.
 */
export function entryKernel(program: IR.Program, name?: string): IR.Kernel | undefined {
  if (name !== undefined) {
    const k = program.kernelByName.get(name);
    if (!k) throw new NoSuchKernel(`no kernel named '${name}' (kernels: ${[...program.kernelByName.keys()].join(", ") || "none"})`);
    return k;
  }
  // kernelByName keeps source order (files in the order given); program.kernels is callee-first.
  const own = [...program.kernelByName.values()].filter((k) => program.kernels.includes(k));
  const lastFile = own[own.length - 1]?.span.file;
  return own.filter((k) => k.span.file === lastFile).sort((a, b) => a.span.start - b.span.start).pop();
}

/** A kernel asked for by name that the program does not define (a usage error, not a diagnostic). */
export class NoSuchKernel extends Error {}
