// `tensorcore cache [prune] [--max-mb N]`: what the per-user cache ($TENSORCORE_CACHE, default
// ~/.cache/tensorcore) holds, folder by folder, and pruning of its compile cache (eigen/) to a limit
// now, least recently used first (each new build applies TENSORCORE_EIGEN_CACHE_MB by itself; see
// compiler/eigen/cache-limit.ts). Only the compile cache is pruned: the other folders hold models and
// reference exports that take minutes to make again.

import { existsSync, lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../compiler/eigen/build.js";
import { cacheEntries, cacheLimitBytes, pruneCache } from "../compiler/eigen/cache-limit.js";
import { CACHE } from "../models/zoo.js";
import { CommandSpec, parseCommand, UsageError } from "./args.js";

export const CACHE_SPEC = {
  name: "cache",
  summary: "Show what the per-user cache holds ($TENSORCORE_CACHE, default ~/.cache/tensorcore), folder by folder.\n" +
    "`tensorcore cache prune` removes the compile cache's least recently used entries (eigen/: compiled\n" +
    "programs and precompiled runtime headers) beyond its limit; every build does the same by itself.",
  usage: "[prune] [options]",
  positionals: { min: 0, max: 1 },
  options: {
    "max-mb": { type: "number", value: "MB", description: "prune the compile cache to this size", defaultText: "TENSORCORE_EIGEN_CACHE_MB, else 2048" },
  },
} as const satisfies CommandSpec;

const mb = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 10 * 2 ** 20 ? 1 : 0)} MB`;

/** Bytes under a path (symbolic links counted as themselves, never followed). */
function du(path: string): number {
  let st;
  try { st = lstatSync(path); } catch { return 0; }
  if (!st.isDirectory()) return st.size;
  let n = 0;
  let names: string[] = [];
  try { names = readdirSync(path); } catch { /* unreadable: counted as empty */ }
  for (const name of names) n += du(join(path, name));
  return n;
}

export async function cacheCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(CACHE_SPEC, argv);
  if (parsed.help) return 0;
  const action = parsed.positionals[0];
  if (action !== undefined && action !== "prune") throw new UsageError(`unknown action '${action}': expected 'prune' or nothing (see \`tensorcore cache --help\`)`);
  const maxMb = parsed.values["max-mb"];
  if (maxMb !== undefined && !(maxMb > 0)) throw new UsageError(`option '--max-mb' must be positive, got ${maxMb}`);
  if (maxMb !== undefined && action !== "prune") throw new UsageError("option '--max-mb' goes with `tensorcore cache prune`");
  const limit = maxMb !== undefined ? maxMb * 2 ** 20 : cacheLimitBytes();
  if (!existsSync(CACHE)) {
    console.log(`${CACHE}: empty (nothing cached yet)`);
    return 0;
  }
  if (action === "prune") {
    // entries used in the last minute may be loading in another process; older ones are fair game
    const r = pruneCache(cacheDir(), limit, new Set(), Date.now(), 60 * 1000);
    console.log(`compile cache ${join(CACHE, "eigen")}: removed ${r.removed.length} entries (${mb(r.freedBytes)}); ${mb(r.keptBytes)} kept (limit ${mb(limit)})`);
    return 0;
  }
  console.log(`${CACHE}:`);
  for (const name of readdirSync(CACHE).sort()) {
    const path = join(CACHE, name);
    let line = `  ${name.padEnd(14)} ${mb(du(path)).padStart(10)}`;
    if (name === "eigen") {
      const entries = cacheEntries(path);
      const programs = entries.filter((e) => e.kind === "program").length, runtimes = entries.length - programs;
      line += `  ${programs} compiled programs, ${runtimes} precompiled runtimes; limit ${mb(limit)} (TENSORCORE_EIGEN_CACHE_MB)`;
    }
    console.log(line);
  }
  return 0;
}
