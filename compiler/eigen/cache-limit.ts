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
// entries the caller names (the one just built) are never removed.

import { lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DiagnosticError } from "../diagnostics.js";
import { removeAside } from "./cache-files.js";

export const DEFAULT_LIMIT_MB = 2048;

/**
 * The limit in bytes: TENSORCORE_EIGEN_CACHE_MB (MB, a positive number; unset or empty: 2048). A value
 * that is not one is refused with one message naming the variable, as `--max-mb` refuses it.
 */
export function cacheLimitBytes(env = process.env.TENSORCORE_EIGEN_CACHE_MB): number {
  if (env === undefined || env.trim() === "") return DEFAULT_LIMIT_MB * 2 ** 20;
  const mb = Number(env);
  if (!Number.isFinite(mb) || mb <= 0) {
    throw new DiagnosticError([{ severity: "error", message: `TENSORCORE_EIGEN_CACHE_MB is '${env}': expected the compile cache's limit in MB, a positive number (unset: ${DEFAULT_LIMIT_MB})` }]);
  }
  return mb * 2 ** 20;
}

/** One cache entry: a program object, or a runtime set (precompiled header + runtime object). */
export interface CacheEntry {
  key: string;
  kind: "program" | "runtime";
  /** Paths that belong to it, relative to the cache folder (folders included as one path). */
  paths: string[];
  bytes: number;
  /** When it was last built or used (ms since the epoch). */
  usedMs: number;
}

const PROGRAM_RE = /^([0-9a-f]{32})\.(so|so\.sum|cpp)$/;
const RUNTIME_RE = /^(?:pch-([0-9a-f]{32})|rt-([0-9a-f]{32})\.o(?:\.sum)?)$/;

/** Bytes under a path, symlinks as themselves; what cannot be read counts as nothing. */
export function sizeOf(path: string): number {
  let st;
  try { st = lstatSync(path); } catch { return 0; }
  if (!st.isDirectory()) return st.size;
  let n = 0, names: string[] = [];
  try { names = readdirSync(path); } catch { /* unreadable */ }
  for (const name of names) n += sizeOf(join(path, name));
  return n;
}

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

export interface PruneResult {
  removed: CacheEntry[];
  /** Entries that should have gone but could not be removed (wholly), with the first reason. */
  failed: { entry: CacheEntry; reason: string }[];
  keptBytes: number;
  freedBytes: number;
}

const gone = (path: string): boolean => {
  try { lstatSync(path); return false; } catch (e) { return (e as NodeJS.ErrnoException).code === "ENOENT"; }
};

/**
 * Remove least recently used entries until the cache holds at most `limit` bytes. Entries whose key
 * (the 32 hex digits) is in `keep`, and entries used within `recentMs` of `now`, stay.
 */
export function pruneCache(dir: string, limit: number, keep: ReadonlySet<string> = new Set(), now = Date.now(), recentMs = 15 * 60 * 1000): PruneResult {
  const entries = cacheEntries(dir);
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  const removed: CacheEntry[] = [], failed: PruneResult["failed"] = [];
  let freed = 0;
  const candidates = entries
    .filter((e) => !keep.has(e.key.slice(e.key.indexOf(":") + 1)) && now - e.usedMs >= recentMs)
    .sort((a, b) => a.usedMs - b.usedMs);
  for (const e of candidates) {
    if (total <= limit) break;
    // the record first: a reader that finds the object without it rebuilds, never loads a half-removed entry
    const order = [...e.paths].sort((a, b) => Number(b.endsWith(".sum")) - Number(a.endsWith(".sum")));
    let reason: string | undefined;
    for (const name of order) {
      const path = join(dir, name);
      try {
        // a PCH folder goes aside first, as build.ts replaces one; a file is removed in one step
        if (lstatSync(path).isDirectory()) removeAside(path);
        else rmSync(path, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // removed meanwhile
        // the folder renamed aside but not wholly deleted is reported too (its temporary stays)
        reason ??= `${path}: ${(err as NodeJS.ErrnoException).code ?? err}${gone(path) ? " (renamed aside, not wholly deleted)" : ""}`;
      }
    }
    if (reason) { failed.push({ entry: e, reason }); continue; }
    total -= e.bytes;
    freed += e.bytes;
    removed.push(e);
  }
  return { removed, failed, keptBytes: total, freedBytes: freed };
}
