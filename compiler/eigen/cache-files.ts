// The compile cache's temporary names and their one safe way of removing an entry, shared by the
// builder (build.ts) and the pruner (cache-limit.ts).

import { randomBytes } from "node:crypto";
import { lstatSync, renameSync, rmSync } from "node:fs";

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
