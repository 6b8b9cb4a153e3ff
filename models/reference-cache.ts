// Keeping the HF reference exports ($TENSORCORE_CACHE/references) bounded. `tensorcore verify` keeps
// one export per model, prompt list and token count (a few MB to tens of MB each: every layer's
// activations and the logits of each step), and nothing removed them: one machine's folder held 344
// of them, 3.4 GB. Each use of an export marks it (its index.json's mtime), and after each new
// export the least recently used go until the folder is under TENSORCORE_REFERENCES_CACHE_MB
// (default 2048, as the compile cache's: a full `npm test` uses ~1 GB of exports; `tensorcore
// cache prune` applies it on demand). Only what export writes is counted or removed: folders named
// by their 16-hex key and the <key>.prompts.json beside them.

import { lstatSync, readdirSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { cleanStaleTemporaries } from "../runtime/cache-files.js";
import { LruEntry, limitFromEnv, pruneLru, PruneResult, sizeOf } from "../runtime/cache-lru.js";

export const REFERENCES_DEFAULT_MB = 2048;

/** The limit in bytes: TENSORCORE_REFERENCES_CACHE_MB (MB, a positive number; unset or empty: 2048). */
export function referencesLimitBytes(env = process.env.TENSORCORE_REFERENCES_CACHE_MB): number {
  return limitFromEnv("TENSORCORE_REFERENCES_CACHE_MB", env, REFERENCES_DEFAULT_MB, "the HF reference exports' limit");
}

const NAME_RE = /^([0-9a-f]{16})(\.prompts\.json)?$/;
/** An export's name renamed aside for removal (runtime/cache-files.ts tmpName). */
const TMP_NAME_RE = /^[0-9a-f]{16}(\.prompts\.json)?\.tmp-\d+-[0-9a-f]{8}$/;

/** The exports in `dir`, recognised by name; an export's use time is its index.json's mtime (else the newest of its paths'). */
export function referenceEntries(dir: string): LruEntry[] {
  const byKey = new Map<string, LruEntry & { indexMs: number }>();
  let names: string[];
  try { names = readdirSync(dir); } catch { return []; }
  for (const name of names) {
    const m = NAME_RE.exec(name);
    if (!m) continue;
    let st;
    try { st = lstatSync(join(dir, name)); } catch { continue; } // removed meanwhile
    // export writes a folder at <key> and a file at <key>.prompts.json; anything else is not ours
    if (m[2] ? !st.isFile() : !st.isDirectory()) continue;
    const e = byKey.get(m[1]) ?? { key: m[1], paths: [], bytes: 0, usedMs: 0, indexMs: 0 };
    e.paths.push(name);
    e.bytes += sizeOf(join(dir, name));
    e.usedMs = Math.max(e.usedMs, st.mtimeMs);
    if (!m[2]) {
      try { e.indexMs = lstatSync(join(dir, name, "index.json")).mtimeMs; } catch { /* an export cut short */ }
    }
    byKey.set(m[1], e);
  }
  // the folder first (renamed aside: verify never reads a half-removed export), then its prompts file
  return [...byKey.values()].map(({ indexMs, ...e }) => ({ ...e, usedMs: indexMs || e.usedMs, paths: e.paths.sort((a, b) => a.length - b.length) }));
}

/** Mark an export as used now (its index.json's mtime); a cache that cannot be written is left as it is. */
export function touchReference(folder: string): void {
  const now = new Date();
  try { utimesSync(join(folder, "index.json"), now, now); } catch { /* read-only: it only ages sooner */ }
}

/** Prune `dir` (references/) to `limit` bytes, least recently used first; `keepKey` (the export in use) stays. */
export function pruneReferences(dir: string, limit: number, keepKey?: string, now = Date.now()): PruneResult {
  // a removal cut short (a killed process, a folder that could not be deleted) leaves its renamed-aside
  // temporary: gone once old and its process is not running
  cleanStaleTemporaries(dir, now, TMP_NAME_RE);
  const usedNow = (e: LruEntry) => {
    try { return lstatSync(join(dir, e.key, "index.json")).mtimeMs; } catch { return e.usedMs; }
  };
  return pruneLru(dir, referenceEntries(dir), limit, { keep: (e) => e.key === keepKey, now, usedNow });
}
