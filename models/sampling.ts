// Picking the next token from logits: greedy, or sampling with temperature, top-k and top-p
// (nucleus), from a seeded generator so that a run can be repeated exactly.

export interface SamplingOptions {
  greedy: boolean;
  temperature: number;
  topK: number; // 0 = no limit
  topP: number; // 1 = no limit
  seed: number;
}

export const GREEDY: SamplingOptions = { greedy: true, temperature: 1, topK: 0, topP: 1, seed: 0 };

/**
 * What is wrong with generation options, named by their flags, or null. One check for the CLI's
 * `generate` and the kernel's `%generate`, which take the same flags.
 */
export function samplingProblem(s: SamplingOptions, maxNewTokens: number): string | null {
  if (!Number.isSafeInteger(maxNewTokens) || maxNewTokens < 1) return `--max-new-tokens must be a whole number, at least 1 (got ${maxNewTokens})`;
  if (!Number.isSafeInteger(s.topK) || s.topK < 0) return `--top-k must be a whole number, 0 or more (got ${s.topK})`;
  if (!Number.isSafeInteger(s.seed)) return `--seed must be a whole number (got ${s.seed})`;
  if (!(s.topP > 0 && s.topP <= 1)) return `--top-p must be in (0, 1] (got ${s.topP})`;
  if (!s.greedy && !(s.temperature > 0 && Number.isFinite(s.temperature))) return `--temperature must be positive (got ${s.temperature})`;
  return null;
}

/** mulberry32: a small, fast, seedable PRNG with a 2^32 period; floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Index of the largest logit (the first one on ties, as torch.argmax). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** The gap between the two largest logits (how decisive a greedy step was). */
export function top2Gap(logits: ArrayLike<number>): number {
  let a = -Infinity, b = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const x = logits[i];
    if (x > a) { b = a; a = x; } else if (x > b) b = x;
  }
  return a - b;
}

export function pickToken(logits: ArrayLike<number>, opts: SamplingOptions, random: () => number): number {
  if (opts.greedy || opts.temperature <= 0) return argmax(logits);
  const n = logits.length;
  let ids = Array.from({ length: n }, (_, i) => i);
  ids.sort((x, y) => logits[y] - logits[x]);
  if (opts.topK > 0 && opts.topK < n) ids = ids.slice(0, opts.topK);
  const m = logits[ids[0]];
  const w = ids.map((i) => Math.exp((logits[i] - m) / opts.temperature));
  const total = w.reduce((a, b) => a + b, 0);
  let keep = ids.length;
  if (opts.topP < 1) {
    let cum = 0;
    for (let j = 0; j < ids.length; j++) {
      cum += w[j] / total;
      if (cum >= opts.topP) { keep = j + 1; break; }
    }
  }
  const kept = w.slice(0, keep);
  const sum = kept.reduce((a, b) => a + b, 0);
  let r = random() * sum;
  for (let j = 0; j < keep; j++) {
    r -= kept[j];
    if (r < 0) return ids[j];
  }
  return ids[keep - 1];
}
