// `tensorcore cache [prune] [--max-mb N]`: what the per-user cache ($TENSORCORE_CACHE, default
// ~/.cache/tensorcore) holds, folder by folder, and pruning of its compile cache (eigen/) to a limit
// now, least recently used first (each new build applies TENSORCORE_EIGEN_CACHE_MB by itself; see
// compiler/eigen/cache-limit.ts). Only the compile cache is pruned: the other folders hold models and
// reference exports that take minutes to make again.

import { lstatSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { STALE_AFTER_MS } from "../compiler/eigen/build.js";
import { cacheEntries, cacheLimitBytes, pruneCache, sizeOf } from "../compiler/eigen/cache-limit.js";
import { cacheDir } from "../runtime/model-folder.js";
import { InputError } from "../runtime/weights.js";
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

/** A folder of the cache: what is at `path` (a symlink to a folder, the cache on another disk, is followed). */
function folderState(path: string): "missing" | "folder" | string {
  try {
    return statSync(path).isDirectory() ? "folder" : "not a folder";
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" ? "missing" : code ?? String(e);
  }
}

/** Bytes under a folder of the cache (followed if a symlink, as builds write through it; links inside counted as themselves). */
const du = (path: string): number => (folderState(path) === "folder" && lstatSync(path).isSymbolicLink() ? sizeOf(join(path, ".")) : sizeOf(path));

export async function cacheCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(CACHE_SPEC, argv);
  if (parsed.help) return 0;
  const action = parsed.positionals[0];
  if (action !== undefined && action !== "prune") throw new UsageError(`unknown action '${action}': expected 'prune' or nothing (see \`tensorcore cache --help\`)`);
  const maxMb = parsed.values["max-mb"];
  if (maxMb !== undefined && !(maxMb > 0)) throw new UsageError(`option '--max-mb' must be positive, got ${maxMb}`);
  if (maxMb !== undefined && action !== "prune") throw new UsageError("option '--max-mb' goes with `tensorcore cache prune`");
  const limit = maxMb !== undefined ? maxMb * 2 ** 20 : cacheLimitBytes();
  const root = cacheDir(), state = folderState(root);
  if (state === "missing") {
    console.log(`${root}: empty (nothing cached yet)`);
    return 0;
  }
  if (state !== "folder") throw new InputError(`the cache ${root} cannot be read (${state}): set TENSORCORE_CACHE to a folder`);
  if (action === "prune") {
    const eigen = join(root, "eigen"), es = folderState(eigen);
    if (es === "missing") {
      console.log(`compile cache ${eigen}: nothing to prune (no compile cache yet)`);
      return 0;
    }
    if (es !== "folder") throw new InputError(`the compile cache ${eigen} cannot be read (${es})`);
    // entries used in the last 15 minutes may be in use by a build or a run elsewhere: they stay
    const r = pruneCache(eigen, limit, new Set(), Date.now(), STALE_AFTER_MS);
    console.log(`compile cache ${eigen}: removed ${r.removed.length} entries (${mb(r.freedBytes)}); ${mb(r.keptBytes)} kept (limit ${mb(limit)}; entries used in the last 15 minutes stay)`);
    if (r.failed.length) throw new InputError(`could not remove ${r.failed.length} entr${r.failed.length === 1 ? "y" : "ies"} of the compile cache: ${r.failed[0].reason}`);
    return 0;
  }
  let names: string[];
  try { names = readdirSync(root).sort(); } catch (e) { throw new InputError(`the cache ${root} cannot be read (${(e as NodeJS.ErrnoException).code ?? e})`); }
  console.log(`${root}:`);
  for (const name of names) {
    const path = join(root, name);
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
