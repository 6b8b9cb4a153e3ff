// `tensorcore cache [prune] [--max-mb N]`: what the per-user cache ($TENSORCORE_CACHE, default
// ~/.cache/tensorcore) holds, folder by folder, and pruning of its compile cache (eigen/) and its HF
// reference exports (references/) to their limits now, least recently used first (each new build
// and each new export applies TENSORCORE_EIGEN_CACHE_MB or TENSORCORE_REFERENCES_CACHE_MB by itself;
// see compiler/eigen/cache-limit.ts and models/reference-cache.ts). The other folders hold models
// that take minutes to make again, and are never pruned.

import { lstatSync, readdirSync, realpathSync, statSync } from "node:fs";
import { join } from "node:path";
import { STALE_AFTER_MS } from "../compiler/eigen/build.js";
import { cacheEntries, cacheLimitBytes, pruneCache, sizeOf } from "../compiler/eigen/cache-limit.js";
import { pruneReferences, referenceEntries, referencesLimitBytes } from "../models/reference-cache.js";
import { cacheDir } from "../runtime/model-folder.js";
import { InputError } from "../runtime/weights.js";
import { CommandSpec, parseCommand, UsageError } from "./args.js";

export const CACHE_SPEC = {
  name: "cache",
  summary: "Show what the per-user cache holds ($TENSORCORE_CACHE, default ~/.cache/tensorcore), folder by folder.\n" +
    "`tensorcore cache prune` removes the least recently used entries beyond their limits of the compile\n" +
    "cache (eigen/: compiled programs and precompiled runtime headers) and of the HF reference exports\n" +
    "(references/: what `tensorcore verify` compares with); every build and every export does the same by itself.",
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
const du = (path: string): number => (folderState(path) === "folder" && lstatSync(path).isSymbolicLink() ? sizeOf(realpathSync(path)) : sizeOf(path));

export async function cacheCommand(argv: string[]): Promise<number> {
  const parsed = parseCommand(CACHE_SPEC, argv);
  if (parsed.help) return 0;
  const action = parsed.positionals[0];
  if (action !== undefined && action !== "prune") throw new UsageError(`unknown action '${action}': expected 'prune' or nothing (see \`tensorcore cache --help\`)`);
  const maxMb = parsed.values["max-mb"];
  if (maxMb !== undefined && !(maxMb > 0)) throw new UsageError(`option '--max-mb' must be positive, got ${maxMb}`);
  if (maxMb !== undefined && action !== "prune") throw new UsageError("option '--max-mb' goes with `tensorcore cache prune`");
  const limit = maxMb !== undefined ? maxMb * 2 ** 20 : cacheLimitBytes();
  const refLimit = referencesLimitBytes();
  const root = cacheDir(), state = folderState(root);
  if (state === "missing") {
    console.log(`${root}: empty (nothing cached yet)`);
    return 0;
  }
  if (state !== "folder") throw new InputError(`the cache ${root} cannot be read (${state}): set TENSORCORE_CACHE to a folder`);
  if (action === "prune") {
    // entries used in the last 15 minutes may be in use by a build or a run elsewhere: they stay
    const folders = [
      { what: "compile cache", path: join(root, "eigen"), limit, prune: (dir: string) => pruneCache(dir, limit, new Set(), Date.now(), STALE_AFTER_MS) },
      { what: "HF reference exports", path: join(root, "references"), limit: refLimit, prune: (dir: string) => pruneReferences(dir, refLimit) },
    ];
    const failures: string[] = [];
    for (const f of folders) {
      const st = folderState(f.path);
      if (st === "missing") { console.log(`${f.what} ${f.path}: nothing to prune (none yet)`); continue; }
      if (st !== "folder") { failures.push(`the ${f.what} ${f.path} cannot be read (${st})`); continue; }
      const r = f.prune(f.path);
      console.log(`${f.what} ${f.path}: removed ${r.removed.length} entries (${mb(r.freedBytes)}); ${mb(r.keptBytes)} kept (limit ${mb(f.limit)}; entries used in the last 15 minutes stay)`);
      if (r.failed.length) failures.push(`could not remove ${r.failed.length} entr${r.failed.length === 1 ? "y" : "ies"} of the ${f.what}: ${r.failed[0].reason}`);
    }
    if (failures.length) throw new InputError(failures.join("; "));
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
    } else if (name === "references") {
      line += `  ${referenceEntries(path).length} exports; limit ${mb(refLimit)} (TENSORCORE_REFERENCES_CACHE_MB)`;
    }
    console.log(line);
  }
  return 0;
}
