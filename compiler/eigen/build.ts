// Building generated C++ into a shared object, with a per-user content-addressed cache:
//   $TENSORCORE_CACHE/eigen/ (default ~/.cache/tensorcore/eigen/; models and references sit beside it)
//     pch-<hash>/tc_runtime.h(.gch)   the runtime header (includes Eigen/Core), precompiled per flag set
//     rt-<hash>.o                      the runtime's product helpers (Eigen GEMM/GEMV), compiled once
//     <hash>.so, <hash>.cpp            one per translation unit; hash = source + flags + compiler version
//                                      + what -march=native means on this CPU
//   Every hash covers compiler/eigen/runtime/tc_runtime.{h,cpp}, so an edited runtime rebuilds all three.
// Every artifact is written under a temporary name and renamed into place, so an interrupted or
// failed build never leaves a broken file where a later run would load it. The cache is still not
// trusted: a disk-full write, a copied or edited cache folder can leave a truncated or altered
// object, and dlopening a truncated .so kills the process with SIGBUS. So each .so and runtime .o
// has a record beside it (NAME.sum: size and sha256, written after the object is in place); an
// object without a record, or whose size or hash differs, is rebuilt, never loaded. Temporary
// names carry the writer's pid (NAME.tmp-PID-RANDOM); ones left by killed builds are removed by a
// later build once they are old and their process is gone (cleanStaleTemporaries). Each use of an
// entry touches its record, and each new build prunes the least recently used entries beyond the
// cache's limit (cache-limit.ts).

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheDir as userCacheDir } from "../../runtime/model-folder.js";
import { DiagnosticError, Interrupted } from "../diagnostics.js";
import { cleanStaleTemporaries, removeAside, STALE_AFTER_MS, TMP_RE, tmpName } from "../../runtime/cache-files.js";
import { cacheLimitBytes, pruneCache } from "./cache-limit.js";
import { runtimeSource } from "./runtime.js";

export const BASE_FLAGS = [
  "-std=c++17", "-O3", "-march=native", "-fPIC", "-fopenmp",
  "-ffp-contract=off", // f32 elementwise results must match the interpreter bit for bit: no FMA contraction
  // FP exceptions are never unmasked or read, so speculating a float operation is harmless; without this,
  // GCC keeps the selects of exp_d (GELU, SiLU, softmax) as branches and leaves those loops scalar
  // (AVX2 GELU: 14 ns/element scalar, 4 vectorized; results bitwise the same)
  "-fno-trapping-math",
  "-fno-math-errno", "-fvisibility=hidden", "-DNDEBUG", "-DEIGEN_NO_DEBUG", "-w",
];

export interface Toolchain {
  cxx: string;
  version: string;
  /** -march=native's ISA macros on this machine, sorted (part of every cache key) */
  native: string;
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
  // What -march=native means on this machine (its ISA macros: __AVX512F__, __AMX_INT8__, …) is part of
  // every cache key: a cache folder shared by machines of different CPUs (a copied home, a network
  // home) must never hand one CPU's objects to another, where they would die of SIGILL.
  const m = spawnSync(cxx, ["-march=native", "-dM", "-E", "-x", "c++", "-"], { input: "", encoding: "utf8" });
  const native = m.status === 0 ? m.stdout.split("\n").sort().join("\n") : "";
  const candidates = [process.env.EIGEN_INCLUDE_DIR, "/usr/include/eigen3", "/usr/local/include/eigen3", join(repoRoot, ".cache/eigen3")];
  const eigenDir = candidates.find((d) => d && existsSync(join(d, "Eigen/Core")));
  if (!eigenDir) {
    throw setupError("the eigen back end needs the Eigen 3.4 headers, which were not found: run `npm run setup` (installs libeigen3-dev) or set EIGEN_INCLUDE_DIR to the folder that contains Eigen/Core.");
  }
  const tc = { cxx, version, native, eigenDir };
  cachedToolchain = { key, tc };
  return tc;
}

let cleaned: string | undefined;

export function cacheDir(): string {
  const d = join(userCacheDir(), "eigen");
  try {
    mkdirSync(d, { recursive: true });
    if (!statSync(d).isDirectory()) throw Object.assign(new Error(), { code: "ENOTDIR" });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw setupError(`the compile cache ${d} cannot be used (${code === "EEXIST" || code === "ENOTDIR" ? "a file is in the way" : code ?? (e as Error).message}): set TENSORCORE_CACHE to a folder you can write`);
  }
  if (cleaned !== d) { cleaned = d; cleanStaleTemporaries(d); } // once per process and folder
  return d;
}

const hash = (...parts: string[]): string => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p).update("\0");
  return h.digest("hex").slice(0, 32);
};

export { cleanStaleTemporaries, STALE_AFTER_MS } from "../../runtime/cache-files.js";

/** The record of a cached object: NAME.sum beside it. */
const sumPath = (obj: string): string => `${obj}.sum`;

function fileSha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** Write the record of an object now in place (atomically: a reader sees the whole record or none). */
function writeRecord(obj: string, sha256 = fileSha256(obj)): void {
  const st = statSync(obj);
  const tmp = tmpName(sumPath(obj));
  writeFileSync(tmp, JSON.stringify({ size: st.size, mtimeMs: st.mtimeMs, sha256 }) + "\n");
  renameSync(tmp, sumPath(obj));
}

/** Remove a directory at a cached object's name, or say in one line that it cannot be. */
function moveAside(path: string): void {
  try {
    removeAside(path);
  } catch (e) {
    throw setupError(`the compile cache holds ${path}, which is not a program it can load or replace (${(e as NodeJS.ErrnoException).code ?? e}); remove it`);
  }
}

const isDirectory = (p: string): boolean => { try { return lstatSync(p).isDirectory(); } catch { return false; } };

/** Mark an entry used (its record's mtime), for the least-recently-used pruning; a failure changes nothing else. */
function touchRecord(obj: string): void {
  const now = new Date();
  try { utimesSync(sumPath(obj), now, now); } catch { /* a read-only cache: pruning then goes by build time */ }
}

/**
 * Whether a cached object is present and matches its record. Objects of a few hundred KB are
 * hashed on every load (well under a millisecond). The ~100 MB precompiled header is not
 * (`stamp`): its size and mtime must match the record, and only a changed mtime is rehashed.
 */
export function verifiedObject(obj: string, stamp = false): boolean {
  let st;
  try { st = statSync(obj); } catch { return false; }
  if (!st.isFile()) return false;
  let rec: { size?: unknown; mtimeMs?: unknown; sha256?: unknown };
  try { rec = JSON.parse(readFileSync(sumPath(obj), "utf8")); } catch { return false; }
  if (!rec || typeof rec !== "object" || rec.size !== st.size || typeof rec.sha256 !== "string") return false;
  if (stamp && rec.mtimeMs === st.mtimeMs) return true;
  try {
    if (fileSha256(obj) !== rec.sha256) return false;
    if (stamp) writeRecord(obj, rec.sha256); // same bytes, new mtime (a copied cache): restamp
    return true;
  } catch { return false; }
}

/** One compiler error in the generated file. */
export interface CxxError { line: number; col: number; message: string }

export class CxxCompileError extends Error {
  constructor(readonly errors: CxxError[], readonly output: string) {
    super(`the C++ compiler failed: ${errors[0]?.message ?? output.split("\n").find((l) => l.trim()) ?? "unknown error"}`);
  }
}

/** The pids of a process's descendants (Linux /proc; elsewhere none). */
function descendants(root: number): number[] {
  const parent = new Map<number, number[]>();
  try {
    for (const d of readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const list = parent.get(ppid) ?? [];
        list.push(Number(d));
        parent.set(ppid, list);
      } catch { /* exited meanwhile */ }
    }
  } catch { return []; }
  const out: number[] = [];
  for (let i = 0, todo = [root]; i < todo.length; i++) for (const c of parent.get(todo[i]) ?? []) { out.push(c); todo.push(c); }
  return out;
}

/** Run the compiler; an abort kills it and the processes it started (cc1plus, as, ld), then rejects with Interrupted. */
function run(cmd: string, args: string[], signal?: AbortSignal): Promise<{ code: number; output: string }> {
  return new Promise((res, rej) => {
    if (signal?.aborted) { rej(new Interrupted()); return; }
    const p = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const onAbort = () => {
      // the driver's children first: killed alone, g++ would leave cc1plus running
      if (p.pid !== undefined) for (const pid of descendants(p.pid).reverse()) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
      p.kill("SIGKILL");
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("error", (e) => { signal?.removeEventListener("abort", onAbort); res({ code: -1, output: String(e) }); });
    p.on("close", (code) => {
      signal?.removeEventListener("abort", onAbort);
      if (signal?.aborted) rej(new Interrupted());
      else res({ code: code ?? -1, output: out });
    });
  });
}

export interface BuildResult { so: string; cached: boolean; seconds: number }

/**
 * Runtime builds under way in this process, by key. Callers share one build; it has its own abort
 * controller, aborted only when every caller waiting for it has been interrupted, so one caller's
 * interrupt (a Jupyter cell's) ends that caller's wait but not the build another caller needs.
 */
const inflight = new Map<string, { build: Promise<void>; controller: AbortController; waiters: number; done: boolean }>();

/** `p`, or Interrupted as soon as `signal` aborts (p itself goes on). */
function untilAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Interrupted());
  return new Promise<T>((res, rej) => {
    const onAbort = () => rej(new Interrupted());
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener("abort", onAbort); res(v); },
      (e) => { signal.removeEventListener("abort", onAbort); rej(e); },
    );
  });
}

/** Once per flag set: the precompiled runtime header and the runtime object. */
async function runtimeArtifacts(tc: Toolchain, flags: string[], log?: (m: string) => void, signal?: AbortSignal): Promise<{ header: string; obj: string; key: string }> {
  const dir = cacheDir();
  const rt = runtimeSource();
  const key = hash(rt.header, rt.impl, tc.version, tc.native, tc.eigenDir, ...flags);
  const pchDir = join(dir, `pch-${key}`);
  const header = join(pchDir, "tc_runtime.h");
  const obj = join(dir, `rt-${key}.o`);
  const gch = join(pchDir, "tc_runtime.h.gch");
  if (verifiedObject(gch, true) && verifiedObject(obj)) { touchRecord(obj); return { header, obj, key }; }
  let shared = inflight.get(key);
  if (!shared) {
    const controller = new AbortController();
    const buildSignal = controller.signal;
    const entry = { controller, waiters: 0, done: false, build: Promise.resolve() };
    entry.build = (async () => {
      if (!verifiedObject(gch, true)) {
        if (existsSync(pchDir)) {
          // a PCH folder without a valid record: move it aside (atomic), then delete it
          log?.(`[eigen] the cached precompiled header pch-${key} does not match its record: rebuilding it`);
          try { removeAside(pchDir); } catch { /* another process did */ }
        }
        log?.("[eigen] precompiling the runtime header (once per compiler and flag set)");
        const tmp = tmpName(pchDir);
        mkdirSync(tmp, { recursive: true });
        writeFileSync(join(tmp, "tc_runtime.h"), rt.header);
        let r;
        try {
          r = await run(tc.cxx, [...flags, "-x", "c++-header", join(tmp, "tc_runtime.h"), "-o", join(tmp, "tc_runtime.h.gch")], buildSignal);
        } finally {
          if (r?.code !== 0) rmSync(tmp, { recursive: true, force: true });
        }
        if (r.code !== 0) throw new CxxCompileError([], r.output);
        writeRecord(join(tmp, "tc_runtime.h.gch"));
        try { renameSync(tmp, pchDir); } catch { rmSync(tmp, { recursive: true, force: true }); } // another process won
      }
      if (!verifiedObject(obj)) {
        log?.("[eigen] compiling the runtime (Eigen products, once per compiler and flag set)");
        const src = tmpName(obj) + ".cpp", out = tmpName(obj);
        writeFileSync(src, rt.impl);
        // its #include "tc_runtime.h" finds the header beside the PCH (-iquote), already included
        let r;
        try {
          r = await run(tc.cxx, [...flags, "-iquote", pchDir, "-include", header, "-c", src, "-o", out], buildSignal);
        } finally {
          rmSync(src, { force: true });
          if (r?.code !== 0) rmSync(out, { force: true });
        }
        if (r.code !== 0) throw new CxxCompileError([], r.output);
        renameSync(out, obj);
        writeRecord(obj);
      }
    })().finally(() => { entry.done = true; if (inflight.get(key) === entry) inflight.delete(key); });
    entry.build.catch(() => {}); // each waiter sees the failure; an abandoned build's is nobody's
    inflight.set(key, entry);
    shared = entry;
  }
  const mine = shared;
  mine.waiters++;
  try {
    await untilAborted(mine.build, signal);
  } finally {
    if (--mine.waiters === 0 && !mine.done) {
      // nobody waits for it any more: stop it, and let a later caller start afresh
      if (inflight.get(key) === mine) inflight.delete(key);
      mine.controller.abort();
    }
  }
  return { header, obj, key };
}

// A loaded program is never unloaded: OpenMP's worker threads spin in libgomp for a while after each
// parallel region, and when koffi dlcloses the library at exit (the last reference to libgomp) a
// still-spinning worker executes unmapped code (SIGSEGV after a run that ended in a parallel product).
const LINK_FLAGS = ["-Wl,-z,nodelete"];

/**
 * Compile a translation unit into a cached shared object (or find it, verified, in the cache).
 * An abort of `signal` kills the compiler and rejects with Interrupted, leaving no temporaries.
 */
export async function buildSharedObject(code: string, extraFlags: string[], log?: (m: string) => void, signal?: AbortSignal): Promise<BuildResult> {
  const t0 = performance.now();
  const tc = toolchain();
  const flags = [...BASE_FLAGS, ...extraFlags, `-I${tc.eigenDir}`];
  const dir = cacheDir();
  const rt = runtimeSource();
  const key = hash(code, tc.version, tc.native, tc.eigenDir, rt.header, rt.impl, ...flags, ...LINK_FLAGS);
  const so = join(dir, `${key}.so`);
  if (verifiedObject(so)) {
    touchRecord(so);
    return { so, cached: true, seconds: (performance.now() - t0) / 1000 };
  }
  if (existsSync(so)) log?.(`[eigen] the cached ${key}.so does not match its record (truncated or altered): rebuilding it`);
  const { header, obj, key: rtKey } = await runtimeArtifacts(tc, flags, log, signal);
  touchRecord(obj); // in use until this build ends: a prune elsewhere keeps what was used lately
  const cpp = join(dir, `${key}.cpp`);
  const tmpCpp = tmpName(cpp) + ".cpp", tmpSo = tmpName(so);
  writeFileSync(tmpCpp, code);
  log?.("[eigen] compiling the program with g++ (cached after the first time)");
  let r;
  try {
    r = await run(tc.cxx, [...flags, "-include", header, "-shared", ...LINK_FLAGS, tmpCpp, obj, "-o", tmpSo], signal);
  } catch (e) {
    rmSync(tmpSo, { force: true });
    rmSync(tmpCpp, { force: true });
    throw e;
  }
  if (r.code !== 0) {
    rmSync(tmpSo, { force: true });
    rmSync(tmpCpp, { force: true });
    const errors: CxxError[] = [];
    const esc = tmpCpp.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const re = new RegExp(`^${esc}:(\\d+):(\\d+): (?:fatal )?error: (.*)$`, "gm");
    for (let m; (m = re.exec(r.output)); ) errors.push({ line: +m[1], col: +m[2], message: m[3] });
    throw new CxxCompileError(errors, r.output.split(tmpCpp).join("<generated>.cpp"));
  }
  try {
    // a directory at one of the entry's names would make its rename fail: it goes first (a file is
    // replaced by the rename itself, atomically, so a reader never finds the name missing)
    for (const p of [sumPath(so), so, cpp]) if (isDirectory(p)) moveAside(p);
    renameSync(tmpSo, so);
    renameSync(tmpCpp, cpp);
  } catch (e) {
    rmSync(tmpSo, { force: true });
    rmSync(tmpCpp, { force: true });
    throw e;
  }
  writeRecord(so);
  // a new entry: the least recently used ones beyond the limit go (never this one or its runtime)
  const limit = cacheLimitBytes();
  const pruned = pruneCache(dir, limit, new Set([key, rtKey]));
  const MB = (b: number) => `${(b / 2 ** 20).toFixed(0)} MB`;
  if (pruned.removed.length) log?.(`[eigen] removed ${pruned.removed.length} least recently used cache entries (${MB(pruned.freedBytes)}); the compile cache holds ${MB(pruned.keptBytes)} (limit ${MB(limit)}, TENSORCORE_EIGEN_CACHE_MB)`);
  if (pruned.failed.length) log?.(`[eigen] could not remove ${pruned.failed.length} old cache entries (${pruned.failed[0].reason})`);
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
