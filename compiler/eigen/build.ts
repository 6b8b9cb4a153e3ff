// Building generated C++ into a shared object, with a per-user content-addressed cache:
//   $TENSORCORE_CACHE/eigen/ (default ~/.cache/tensorcore/eigen/; models and references sit beside it)
//     pch-<hash>/tc_runtime.h(.gch)   the runtime header (includes Eigen/Core), precompiled per flag set
//     rt-<hash>.o                      the runtime's product helpers (Eigen GEMM/GEMV), compiled once
//     <hash>.so, <hash>.cpp            one per translation unit; hash = source + flags + compiler version
//   Every hash covers compiler/eigen/runtime/tc_runtime.{h,cpp}, so an edited runtime rebuilds all three.
// Every artifact is written under a temporary name and renamed into place, so an interrupted or
// failed build never leaves a broken file where a later run would load it.

import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DiagnosticError } from "../diagnostics.js";
import { runtimeSource } from "./runtime.js";

export const BASE_FLAGS = [
  "-std=c++17", "-O3", "-march=native", "-fPIC", "-fopenmp",
  "-ffp-contract=off", // f32 elementwise results must match the interpreter bit for bit: no FMA contraction
  "-fno-math-errno", "-fvisibility=hidden", "-DNDEBUG", "-DEIGEN_NO_DEBUG", "-w",
];

export interface Toolchain {
  cxx: string;
  version: string;
  eigenDir: string;
}

/** A user-facing problem with the build environment: one sentence saying how to fix it. */
export function setupError(message: string): DiagnosticError {
  return new DiagnosticError([{ severity: "error", message }]);
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let cachedToolchain: { key: string; tc: Toolchain } | undefined;

export function toolchain(): Toolchain {
  const cxx = process.env.TENSORCORE_CXX || "g++";
  const key = `${cxx}\0${process.env.EIGEN_INCLUDE_DIR ?? ""}`;
  if (cachedToolchain?.key === key) return cachedToolchain.tc;
  const r = spawnSync(cxx, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw setupError(`the eigen back end needs a C++17 compiler, but '${cxx}' could not be run: install g++ (e.g. \`apt-get install g++\`) or set TENSORCORE_CXX to one.`);
  }
  const version = (r.stdout.split("\n")[0] ?? "").trim();
  const candidates = [process.env.EIGEN_INCLUDE_DIR, "/usr/include/eigen3", "/usr/local/include/eigen3", join(repoRoot, ".cache/eigen3")];
  const eigenDir = candidates.find((d) => d && existsSync(join(d, "Eigen/Core")));
  if (!eigenDir) {
    throw setupError("the eigen back end needs the Eigen 3.4 headers, which were not found: run `npm run setup` (installs libeigen3-dev) or set EIGEN_INCLUDE_DIR to the folder that contains Eigen/Core.");
  }
  const tc = { cxx, version, eigenDir };
  cachedToolchain = { key, tc };
  return tc;
}

export function cacheDir(): string {
  const d = join(process.env.TENSORCORE_CACHE || join(homedir(), ".cache/tensorcore"), "eigen");
  mkdirSync(d, { recursive: true });
  return d;
}

const hash = (...parts: string[]): string => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 32);
};

const tmpName = (p: string): string => `${p}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;

/** One compiler error in the generated file. */
export interface CxxError { line: number; col: number; message: string }

export class CxxCompileError extends Error {
  constructor(readonly errors: CxxError[], readonly output: string) {
    super(`the C++ compiler failed: ${errors[0]?.message ?? output.split("\n").find((l) => l.trim()) ?? "unknown error"}`);
  }
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("error", (e) => res({ code: -1, output: String(e) }));
    p.on("close", (code) => res({ code: code ?? -1, output: out }));
  });
}

export interface BuildResult { so: string; cached: boolean; seconds: number }

const inflight = new Map<string, Promise<string>>();

/** Once per flag set: the precompiled runtime header and the runtime object. */
async function runtimeArtifacts(tc: Toolchain, flags: string[], log?: (m: string) => void): Promise<{ header: string; obj: string }> {
  const dir = cacheDir();
  const rt = runtimeSource();
  const key = hash(rt.header, rt.impl, tc.version, tc.eigenDir, ...flags);
  const pchDir = join(dir, `pch-${key}`);
  const header = join(pchDir, "tc_runtime.h");
  const obj = join(dir, `rt-${key}.o`);
  if (existsSync(join(pchDir, "tc_runtime.h.gch")) && existsSync(obj)) return { header, obj };
  let p = inflight.get(key);
  if (!p) {
    p = (async () => {
      if (!existsSync(join(pchDir, "tc_runtime.h.gch"))) {
        log?.("[eigen] precompiling the runtime header (once per compiler and flag set)");
        const tmp = tmpName(pchDir);
        mkdirSync(tmp, { recursive: true });
        writeFileSync(join(tmp, "tc_runtime.h"), rt.header);
        const r = await run(tc.cxx, [...flags, "-x", "c++-header", join(tmp, "tc_runtime.h"), "-o", join(tmp, "tc_runtime.h.gch")]);
        if (r.code !== 0) { rmSync(tmp, { recursive: true, force: true }); throw new CxxCompileError([], r.output); }
        try { renameSync(tmp, pchDir); } catch { rmSync(tmp, { recursive: true, force: true }); } // another process won
      }
      if (!existsSync(obj)) {
        log?.("[eigen] compiling the runtime (Eigen products, once per compiler and flag set)");
        const src = tmpName(obj) + ".cpp", out = tmpName(obj);
        writeFileSync(src, rt.impl);
        // its #include "tc_runtime.h" finds the header beside the PCH (-iquote), already included
        const r = await run(tc.cxx, [...flags, "-iquote", pchDir, "-include", header, "-c", src, "-o", out]);
        rmSync(src, { force: true });
        if (r.code !== 0) { rmSync(out, { force: true }); throw new CxxCompileError([], r.output); }
        renameSync(out, obj);
      }
      return key;
    })().finally(() => inflight.delete(key));
    inflight.set(key, p);
  }
  await p;
  return { header, obj };
}

// A loaded program is never unloaded: OpenMP's worker threads spin in libgomp for a while after each
// parallel region, and when koffi dlcloses the library at exit (the last reference to libgomp) a
// still-spinning worker executes unmapped code (SIGSEGV after a run that ended in a parallel product).
const LINK_FLAGS = ["-Wl,-z,nodelete"];

/** Compile a translation unit into a cached shared object (or find it in the cache). */
export async function buildSharedObject(code: string, extraFlags: string[], log?: (m: string) => void): Promise<BuildResult> {
  const t0 = performance.now();
  const tc = toolchain();
  const flags = [...BASE_FLAGS, ...extraFlags, `-I${tc.eigenDir}`];
  const dir = cacheDir();
  const rt = runtimeSource();
  const key = hash(code, tc.version, tc.eigenDir, rt.header, rt.impl, ...flags, ...LINK_FLAGS);
  const so = join(dir, `${key}.so`);
  if (existsSync(so)) return { so, cached: true, seconds: (performance.now() - t0) / 1000 };
  const { header, obj } = await runtimeArtifacts(tc, flags, log);
  const cpp = join(dir, `${key}.cpp`);
  const tmpCpp = tmpName(cpp) + ".cpp", tmpSo = tmpName(so);
  writeFileSync(tmpCpp, code);
  log?.("[eigen] compiling the program with g++ (cached after the first time)");
  const r = await run(tc.cxx, [...flags, "-include", header, "-shared", ...LINK_FLAGS, tmpCpp, obj, "-o", tmpSo]);
  if (r.code !== 0) {
    rmSync(tmpSo, { force: true });
    rmSync(tmpCpp, { force: true });
    const errors: CxxError[] = [];
    const esc = tmpCpp.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const re = new RegExp(`^${esc}:(\\d+):(\\d+): (?:fatal )?error: (.*)$`, "gm");
    for (let m; (m = re.exec(r.output)); ) errors.push({ line: +m[1], col: +m[2], message: m[3] });
    throw new CxxCompileError(errors, r.output.split(tmpCpp).join("<generated>.cpp"));
  }
  renameSync(tmpCpp, cpp);
  renameSync(tmpSo, so);
  return { so, cached: false, seconds: (performance.now() - t0) / 1000 };
}

/** Why the compiled back end cannot build here (no C++ compiler, no Eigen), or undefined when it can. */
export function toolchainProblem(): string | undefined {
  try {
    toolchain();
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}
