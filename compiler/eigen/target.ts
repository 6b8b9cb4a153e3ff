// A program's `target NAME { key = value; ... }` block → compiler flags, from a closed whitelist.
// Nothing from a target block reaches the compiler's command line unless it is one of the values
// below; an invalid value is an error pointing at the target block, an unknown key a warning.

import { Diagnostic, DiagnosticError } from "../diagnostics.js";
import * as IR from "../ir.js";

const MARCH = ["native", "x86-64", "x86-64-v2", "x86-64-v3", "x86-64-v4", "haswell", "skylake", "skylake-avx512", "icelake-server", "sapphirerapids", "znver2", "znver3", "znver4"];
const SIMD: Record<string, string[]> = {
  sse: ["-mno-avx"],
  avx2: ["-mavx2", "-mfma"],
  avx512: ["-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-mfma"],
};
const FREE_FLAGS = new Set(["-funroll-loops", "-mavx2", "-mfma", "-mf16c", "-mavx512f", "-mavx512vl", "-mavx512bw", "-mavx512dq", "-O2", "-O3", "-mprefer-vector-width=512", "-mprefer-vector-width=256"]);

export interface TargetConfig {
  flags: string[];
  threads?: number;
  warnings: Diagnostic[];
}

export function targetConfig(target: IR.Target | undefined): TargetConfig {
  const cfg: TargetConfig = { flags: [], warnings: [] };
  if (!target) return cfg;
  const errors: Diagnostic[] = [];
  const bad = (key: string, why: string) => errors.push({ severity: "error", span: target.span, message: `target setting '${key}': ${why}` });
  for (const [key, value] of Object.entries(target.settings)) {
    const v = String(value);
    switch (key) {
      case "march": case "arch": case "cpu":
        // the prototype's `arch = x86_64` names the host: code is built for it (-march=native) anyway
        if (typeof value === "string" && (v === "x86_64" || v === "host")) break;
        if (typeof value === "string" && MARCH.includes(v)) cfg.flags.push(`-march=${v}`);
        else bad(key, `must be x86_64, host or one of ${MARCH.join(", ")}`);
        break;
      case "vector": case "vector_width": {
        // a hint only (Eigen and -march=native choose vector widths); validated, adds no flag
        if (!(typeof value === "number" && [4, 8, 16].includes(value))) bad(key, "must be 4, 8 or 16 (f32 lanes)");
        break;
      }
      case "simd": case "isa":
        if (typeof value === "string" && SIMD[v]) cfg.flags.push(...SIMD[v]);
        else bad(key, `must be one of ${Object.keys(SIMD).join(", ")}`);
        break;
      case "opt": case "opt_level":
        if (v === "2" || v === "O2" || v === "3" || v === "O3") cfg.flags.push(`-O${v.replace("O", "")}`);
        else bad(key, "must be 2 or 3");
        break;
      case "unroll":
        if (v === "1" || v === "true") cfg.flags.push("-funroll-loops");
        else if (v !== "0" && v !== "false") bad(key, "must be 0 or 1");
        break;
      case "threads":
        if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= 1024) cfg.threads = value;
        else bad(key, "must be an integer from 1 to 1024");
        break;
      case "flags": {
        const parts = v.split(/\s+/).filter((x) => x);
        const unknown = parts.filter((f) => !FREE_FLAGS.has(f));
        if (typeof value !== "string" || unknown.length) bad(key, `only these flags are allowed: ${[...FREE_FLAGS].join(" ")}`);
        else cfg.flags.push(...parts);
        break;
      }
      default:
        cfg.warnings.push({ severity: "warning", span: target.span, message: `unknown target setting '${key}' is ignored by the eigen back end (known: arch/march, vector, simd, opt, unroll, threads, flags)` });
    }
  }
  if (errors.length) throw new DiagnosticError(errors);
  return cfg;
}
