// The C++ runtime every generated translation unit uses: compiler/eigen/runtime/tc_runtime.h (inline
// scalar rules and the product helpers' declarations, precompiled once per flag set) and
// tc_runtime.cpp (the product helpers, compiled once per flag set into an object every kernel .so
// links). `npm run build` (scripts/build-assets.mjs) copies them beside this module's compiled form,
// dist/compiler/eigen/runtime/, where they are read on first use.

import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DiagnosticError } from "../diagnostics.js";

export interface RuntimeSource {
  /** tc_runtime.h */
  header: string;
  /** tc_runtime.cpp; it includes "tc_runtime.h" */
  impl: string;
}

export const runtimeDir = join(dirname(fileURLToPath(import.meta.url)), "runtime");

let cached: RuntimeSource | undefined;

export function runtimeSource(): RuntimeSource {
  if (cached) return cached;
  const header = join(runtimeDir, "tc_runtime.h"), impl = join(runtimeDir, "tc_runtime.cpp");
  if (!existsSync(header) || !existsSync(impl)) {
    throw new DiagnosticError([{ severity: "error", message: `the eigen back end's C++ runtime is missing from ${runtimeDir}: run \`npm run build\` (it copies compiler/eigen/runtime/ there).` }]);
  }
  cached = { header: readFileSync(header, "utf8"), impl: readFileSync(impl, "utf8") };
  return cached;
}

/** Header and implementation as one text, for a translation unit that must compile on its own. */
export function runtimeAmalgamation(): string {
  const { header, impl } = runtimeSource();
  // the header is already above; the include would look for a file that is not beside the output
  return header + "\n" + impl.replace(/^#include "tc_runtime\.h"\n/m, "");
}
