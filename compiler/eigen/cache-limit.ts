// Keeping the compile cache ($TENSORCORE_CACHE/eigen) bounded. Every edit of a kernel, of a model
// library or of the runtime adds objects that nothing ever asks for again: a program's .so is ~0.6
// MB, but each runtime version adds a ~100 MB precompiled header per flag set, and one machine's cache
// had grown to 7 GB. So each use of an entry marks it (its record's mtime: build.ts's touchRecord),
// and after each new build the least recently used entries go until the cache is under its limit
// (TENSORCORE_EIGEN_CACHE_MB, default 2048; `tensorcore cache prune` applies it on demand).
//
// Only entries of the names build.ts writes are counted or removed (<32 hex>.so with its .so.sum and
// .cpp; pch-<32 hex>/ with rt-<32 hex>.o and .o.sum); anything else in the folder is left alone. An
// entry used in the last STALE_AFTER_MS may be in use by another process sharing the cache, and the
// entries the caller names (the one just built) are never removed. The pruning itself is
// runtime/cache-lru.ts's, which the reference exports' folder uses too.

import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { STALE_AFTER_MS } from "../../runtime/cache-files.js";
import { LruEntry, limitFromEnv, pruneLru, PruneResult, sizeOf } from "../../runtime/cache-lru.js";

export { sizeOf };
export type { PruneResult } from "../../runtime/cache-lru.js";

export const DEFAULT_LIMIT_MB = 2048;

/**
 * The limit in bytes: TENSORCORE_EIGEN_CACHE_MB (MB, a positive number; unset or empty: 2048). A value
 * that is not one is refused with one message naming the variable, as `--max-mb` refuses it.
 */
export function cacheLimitBytes(env = process.env.TENSORCORE_EIGEN_CACHE_MB): number {
  return limitFromEnv("TENSORCORE_EIGEN_CACHE_MB", env, DEFAULT_LIMIT_MB, "the compile cache's limit");
}

/** One cache entry: a program object, or a runtime set (precompiled header + runtime object). */
export interface CacheEntry extends LruEntry {
  kind: "program" | "runtime";
}

const PROGRAM_RE = /^([0-9a-f]{32})\.(so|so\.sum|cpp)$/;
const RUNTIME_RE = /^(?:pch-([0-9a-f]{32})|rt-([0-9a-f]{32})\.o(?:\.sum)?)$/;

/** The entries in `dir`, recognised by name only; their use time is their record's mtime (else their newest file's). */
export function cacheEntries(dir: string): CacheEntry[] {
  const byKey = new Map<string, CacheEntry & { recordMs: number }>();
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  for (const name of names) {
    const p = PROGRAM_RE.exec(name), r = p ? null : RUNTIME_RE.exec(name);
    if (!p && !r) continue;
    const kind = p ? "program" : "runtime";
    const key = `${kind}:${p ? p[1] : r![1] ?? r![2]}`;
    let st;
    try { st = lstatSync(join(dir, name)); } catch { continue; } // removed meanwhile
    if (st.isSymbolicLink()) continue; // never ours
    const e = byKey.get(key) ?? { key, kind, paths: [], bytes: 0, usedMs: 0, recordMs: 0 };
    e.paths.push(name);
    e.bytes += sizeOf(join(dir, name));
    // the record (<key>.so.sum, rt-<key>.o.sum) is touched on each use
    if (name.endsWith(".sum")) e.recordMs = st.mtimeMs;
    e.usedMs = Math.max(e.usedMs, st.mtimeMs);
    byKey.set(key, e);
  }
  return [...byKey.values()].map(({ recordMs, ...e }) => ({ ...e, usedMs: recordMs || e.usedMs }));
}

/**
 * Remove least recently used entries until the cache holds at most `limit` bytes. Entries whose key
 * (the 32 hex digits) is in `keep`, and entries used within `recentMs` of `now`, stay.
 */
export function pruneCache(dir: string, limit: number, keep: ReadonlySet<string> = new Set(), now = Date.now(), recentMs = STALE_AFTER_MS): PruneResult<CacheEntry> {
  return pruneLru(dir, cacheEntries(dir), limit, {
    keep: (e) => keep.has(e.key.slice(e.key.indexOf(":") + 1)), now, recentMs,
    // the record first: a reader that finds the object without it rebuilds, never loads a half-removed entry
    order: (paths) => [...paths].sort((x, y) => Number(y.endsWith(".sum")) - Number(x.endsWith(".sum"))),
  });
}
