// Temporary names in the per-user cache, the one safe way of removing an entry, and the cleanup of
// temporaries that killed processes left: shared by the compile cache (compiler/eigen/build.ts,
// cache-limit.ts) and the HF reference exports (models/reference-cache.ts), through cache-lru.ts.

import { randomBytes } from "node:crypto";
import { lstatSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";

/** A temporary name beside `p`: the writer's pid, then 8 random hex digits. */
export const tmpName = (p: string): string => `${p}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;

/** Exactly the names tmpName makes (plus the .cpp suffix of sources): nothing else is ever removed as a temporary. */
export const TMP_RE = /\.tmp-(\d+)-[0-9a-f]{8}(?:\.cpp)?$/;

/**
 * Remove a cache file or folder: renamed aside to a temporary name in one step, then deleted, so no
 * reader finds it half-removed (and a deletion cut short is cleaned up later as a stale temporary).
 * A symlink is removed as a link. Throws the file system's error (the path is gone when the rename
 * succeeded, even if deleting the renamed copy failed).
 */
export function removeAside(path: string): void {
  const isDir = lstatSync(path).isDirectory();
  const aside = tmpName(path);
  renameSync(path, aside);
  rmSync(aside, { recursive: isDir, force: true });
}

/** A temporary younger than this may belong to a build still running on another machine sharing the cache. */
export const STALE_AFTER_MS = 15 * 60 * 1000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by someone else
  }
}

/**
 * Remove temporaries that killed builds (or removals cut short) left in a cache folder (a half-built
 * PCH folder is ~100 MB): only names tmpName makes (and, given `only`, that match it), only when
 * older than STALE_AFTER_MS and their writer's pid is not a live process. Returns the names removed.
 */
export function cleanStaleTemporaries(dir: string, now = Date.now(), only?: RegExp): string[] {
  const removed: string[] = [];
  let names: string[];
  try { names = readdirSync(dir); } catch { return removed; }
  for (const name of names) {
    const m = TMP_RE.exec(name);
    if (!m || (only && !only.test(name))) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path); // a symlink is removed as a link, never followed
      if (now - st.mtimeMs < STALE_AFTER_MS) continue;
      rmSync(path, { recursive: st.isDirectory(), force: true });
      removed.push(name);
    } catch { /* gone meanwhile, or not ours to remove */ }
  }
  return removed;
}

