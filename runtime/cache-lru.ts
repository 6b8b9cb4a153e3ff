// Least-recently-used pruning of a folder of the per-user cache, shared by the compile cache
// (compiler/eigen/cache-limit.ts) and the HF reference exports (models/reference-cache.ts). Each folder
// recognises its own entries by name and says when each was last used; this removes the oldest
// until the folder is under its limit, never an entry the caller keeps or one used recently (another
// process sharing the cache may be using it), and nothing it was not given.

import { lstatSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { DiagnosticError } from "../compiler/diagnostics.js";
import { removeAside, STALE_AFTER_MS } from "./cache-files.js";

/** One entry of a cache folder: the paths (relative to the folder) that make it up. */
export interface LruEntry {
  key: string;
  paths: string[];
  bytes: number;
  /** When it was last made or used (ms since the epoch). */
  usedMs: number;
}

export interface PruneResult<E extends LruEntry = LruEntry> {
  removed: E[];
  /** Entries that should have gone but could not be removed (wholly), with the first reason. */
  failed: { entry: E; reason: string }[];
  keptBytes: number;
  freedBytes: number;
}

/**
 * A cache limit in bytes from an environment variable holding MB (a positive number; unset or empty:
 * `defaultMb`). Anything else is refused with one message naming the variable.
 */
export function limitFromEnv(name: string, value: string | undefined, defaultMb: number, what: string): number {
  if (value === undefined || value.trim() === "") return defaultMb * 2 ** 20;
  // decimal only: Number() would also take 0x10, 0b11 and 0o7
  const mb = /^\s*(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(mb) || mb <= 0) {
    throw new DiagnosticError([{ severity: "error", message: `${name} is '${value}': expected ${what} in MB, a positive number (unset: ${defaultMb})` }]);
  }
  return mb * 2 ** 20;
}

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

const gone = (path: string): boolean => {
  try { lstatSync(path); return false; } catch (e) { return (e as NodeJS.ErrnoException).code === "ENOENT"; }
};

/**
 * Remove least recently used entries of `dir` until the entries hold at most `limit` bytes. Entries
 * for which `keep` holds, and entries used within `recentMs` of `now`, stay. Each entry's paths go in
 * `order` (default: as listed): a folder renamed aside first (no reader finds it half-removed), a file
 * in one step.
 */
export function pruneLru<E extends LruEntry>(
  dir: string, entries: E[], limit: number,
  opts: { keep?: (e: E) => boolean; now?: number; recentMs?: number; order?: (paths: string[]) => string[]; usedNow?: (e: E) => number } = {},
): PruneResult<E> {
  const now = opts.now ?? Date.now(), recentMs = opts.recentMs ?? STALE_AFTER_MS;
  let total = entries.reduce((n, e) => n + e.bytes, 0);
  const removed: E[] = [], failed: PruneResult<E>["failed"] = [];
  let freed = 0;
  const candidates = entries.filter((e) => !opts.keep?.(e) && now - e.usedMs >= recentMs).sort((a, b) => a.usedMs - b.usedMs);
  for (const e of candidates) {
    if (total <= limit) break;
    // used since the listing (sizing a large folder takes a while): another process has it now
    if (opts.usedNow && Date.now() - opts.usedNow(e) < recentMs) continue;
    let reason: string | undefined;
    for (const name of opts.order ? opts.order(e.paths) : e.paths) {
      const path = join(dir, name);
      try {
        if (lstatSync(path).isDirectory()) removeAside(path);
        else rmSync(path, { force: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") continue; // removed meanwhile
        // a folder renamed aside but not wholly deleted is reported too (its temporary stays); the
        // entry's other paths stay, so it is not left half-removed more than it must be
        reason = `${path}: ${(err as NodeJS.ErrnoException).code ?? err}${gone(path) ? " (renamed aside, not wholly deleted)" : ""}`;
        break;
      }
    }
    if (reason) { failed.push({ entry: e, reason }); continue; }
    total -= e.bytes;
    freed += e.bytes;
    removed.push(e);
  }
  return { removed, failed, keptBytes: total, freedBytes: freed };
}
