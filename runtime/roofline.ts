// This machine's roofline for the profiler: streaming-read bandwidth (bench/stream.cpp, 1 GiB summed
// by every thread) and peak FMA rate (bench/peak-fma.cpp, register-only multiply-adds), measured
// once per CPU, thread count and source version, and cached in $TENSORCORE_CACHE/roofline/.
// Both are built with g++ -O3 -march=native -fopenmp, so they use what this CPU has (AVX-512 or
// AVX2+FMA), like the compiled back end.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cacheDir as userCacheDir, writeFileAtomic } from "./model-folder.js";
import type { Roofline } from "./profile.js";

/** Repository root: this file compiles to <repo>/dist/runtime/roofline.js. */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const cacheDir = (): string => join(userCacheDir(), "roofline");

function cpuModel(): { name: string; flags: string } {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    const field = (k: string) => new RegExp(`^${k}\\s*:\\s*(.*)$`, "m").exec(info)?.[1] ?? "";
    return { name: field("model name"), flags: field("flags") };
  } catch {
    return { name: "unknown CPU", flags: "" };
  }
}

function build(name: string, dir: string, key: string): string {
  const src = join(ROOT, "bench", `${name}.cpp`);
  const exe = join(dir, `${name}-${key}`);
  if (!existsSync(exe)) {
    const r = spawnSync("g++", ["-O3", "-march=native", "-fopenmp", src, "-o", exe + ".tmp"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`g++ ${name}.cpp failed: ${r.stderr}`);
    renameSync(exe + ".tmp", exe);
  }
  return exe;
}

function runJson(exe: string, args: string[], threads: number): Record<string, unknown> {
  const r = spawnSync(exe, args, { encoding: "utf8", env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
  if (r.status !== 0) throw new Error(`${exe}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

/**
 * Whether the machine is busy with other work: the 1-minute load average is at least half the cores.
 * A roofline measured then may be far too low (one measured at load 8 read 4.9 GB/s, a quiet one 30).
 */
export function machineBusy(load1: number): boolean {
  return load1 >= availableParallelism() / 2;
}

/**
 * What the cache keeps after measuring again over a busy entry (or none): a quiet measurement
 * replaces it; a busy one keeps the higher figure of each (a busy machine only makes them lower),
 * still busy.
 */
export function keepRoofline(cached: Roofline | undefined, fresh: Roofline): Roofline {
  if (!cached || !fresh.busy) return fresh;
  return { ...fresh, bandwidthGBps: Math.max(cached.bandwidthGBps, fresh.bandwidthGBps), peakGflops: Math.max(cached.peakGflops, fresh.peakGflops) };
}

/**
 * The roofline for `threads` threads (default TENSORCORE_THREADS, else every core). Measured on the
 * first call for this CPU (a few seconds), then read from the cache. A figure measured on a busy
 * machine is measured again on each later call until a quiet measurement replaces it; `refresh`
 * measures again in any case.
 */
/** A cached measurement for `threads` threads, or undefined when there is none or it is damaged (not JSON, or not these numbers): then it is measured again. */
export function readRooflineEntry(file: string, threads: number): Roofline | undefined {
  if (!existsSync(file)) return undefined;
  let r: Partial<Roofline> | null;
  try {
    r = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
  const positive = (x: unknown) => typeof x === "number" && Number.isFinite(x) && x > 0;
  if (!r || typeof r !== "object" || !positive(r.bandwidthGBps) || !positive(r.peakGflops) || r.threads !== threads || typeof r.note !== "string") return undefined;
  return r as Roofline;
}

export function roofline(opts: { threads?: number; refresh?: boolean } = {}): Roofline {
  const env = Number(process.env.TENSORCORE_THREADS);
  const threads = opts.threads ?? (Number.isInteger(env) && env > 0 ? env : availableParallelism());
  const cpu = cpuModel();
  const sources = ["stream", "peak-fma"].map((n) => readFileSync(join(ROOT, "bench", `${n}.cpp`), "utf8")).join("\0");
  const key = createHash("sha256").update(`${cpu.name}\0${cpu.flags}\0${sources}`).digest("hex").slice(0, 12);
  const dir = cacheDir();
  const file = join(dir, `${key}-t${threads}.json`);
  const cached = readRooflineEntry(file, threads);
  if (cached && !cached.busy && !opts.refresh) return cached;
  mkdirSync(dir, { recursive: true });
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3);
  const bw = runJson(build("stream", dir, key), ["1024"], threads);
  const fma = runJson(build("peak-fma", dir, key), [], threads);
  const busy = machineBusy(Number(load[0]));
  const fresh: Roofline = {
    bandwidthGBps: Number(bw.read_GBps),
    peakGflops: Number(fma.peak_GFLOPs),
    threads,
    note: `${cpu.name.replace(/\s+/g, " ").trim()}, ${fma.isa}, measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, load ${load.join(" ")}${busy ? " (busy: measured again next time)" : ""}`,
    ...(busy ? { busy } : {}),
  };
  const r = opts.refresh ? fresh : keepRoofline(cached, fresh);
  writeFileAtomic(file, JSON.stringify(r) + "\n");
  return r;
}
