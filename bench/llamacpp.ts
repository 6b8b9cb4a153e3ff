// llama.cpp in the bench run: its real kernels, on GGUF files that `tensorcore hf export-gguf` writes
// from the same HF folder the DSL rows use.
//
// Two builds, and the bench compares against the faster one per row:
//  * prebuilt: the npm package node-llama-cpp, pinned in bench/llamacpp/package.json (bench-only,
//    installed here on demand with `npm ci --omit=optional`, so only its linux-x64 CPU binaries come,
//    ~85 MB instead of ~730 MB with the CUDA/Vulkan builds). Its libggml picks the best of its
//    prebuilt CPU variants at load time (haswell, skylakex, zen4, ...). Timed through its API.
//  * native: llama.cpp's own source, shipped in that package as a git bundle
//    (node-llama-cpp/llama/gitRelease.bundle), cloned and built once with GGML_NATIVE into
//    $TENSORCORE_CACHE/llamacpp/native-<tag>/ (targets llama-bench and llama-simple only). Timed by
//    llama.cpp's own `llama-bench` (tg and pp tests, -t 2).
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { REPO_ROOT } from "../models/causal-lm.js";
import { CACHE, PYTHON } from "../models/zoo.js";

export const LLAMACPP_DIR = join(REPO_ROOT, "bench", "llamacpp");
const PKG = join(LLAMACPP_DIR, "node_modules", "node-llama-cpp");
export const GGUF_DTYPES = ["f32", "f16", "bf16", "q8_0"] as const;
export type GgufDtype = (typeof GGUF_DTYPES)[number];

/** Is the bench-only package installed (and matching its lock file)? */
export function llamaPackageInstalled(): boolean {
  const stamp = join(LLAMACPP_DIR, "node_modules", ".tc-lock-hash");
  return existsSync(join(PKG, "package.json")) && existsSync(stamp) && readFileSync(stamp, "utf8").trim() === lockHash();
}

function lockHash(): string {
  return createHash("sha256").update(readFileSync(join(LLAMACPP_DIR, "package-lock.json"))).digest("hex").slice(0, 16);
}

/** `npm ci` of bench/llamacpp when its lock file changed; returns why not on failure. */
export function ensureLlamaPackage(log: (s: string) => void = console.error): string | null {
  if (llamaPackageInstalled()) return null;
  log("[bench] installing node-llama-cpp 3.21.1 into bench/llamacpp (linux-x64 CPU binaries only)");
  const r = spawnSync("npm", ["ci", "--omit=optional", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: LLAMACPP_DIR, stdio: ["ignore", "inherit", "inherit"],
    // no postinstall download or build of llama.cpp: the prebuilt binaries are what we want from it
    env: { ...process.env, NODE_LLAMA_CPP_SKIP_DOWNLOAD: "true" },
  });
  if (r.status !== 0) return `npm ci in bench/llamacpp failed (exit ${r.status})`;
  writeFileSync(join(LLAMACPP_DIR, "node_modules", ".tc-lock-hash"), lockHash() + "\n");
  return null;
}

/** One GGUF file of the HF folder per dtype, written by python-ref, cached beside the HF folder. */
export function ggufOf(hfDir: string, dtype: GgufDtype): string {
  const stamp = join(hfDir, "tensorcore-make.json");
  const key = existsSync(stamp) ? createHash("sha256").update(readFileSync(stamp)).digest("hex").slice(0, 12) : "x";
  const out = join(`${hfDir}-gguf`, `${key}-${dtype}.gguf`);
  if (!existsSync(out)) {
    const r = spawnSync(PYTHON, ["-m", "tensorcore_ref", "export-gguf", hfDir, "--out", out, "--dtype", dtype], {
      encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1", PYTHONPATH: join(REPO_ROOT, "python-ref") },
    });
    if (r.status !== 0) throw new Error(`export-gguf ${dtype}: ${r.stderr}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// prebuilt (node-llama-cpp)

type NodeLlama = { getLlama: (o: object) => Promise<any>; LlamaLogLevel: Record<string, unknown> };
let llamaInstance: Promise<any> | null = null;

async function nodeLlama(): Promise<any> {
  llamaInstance ??= (async () => {
    const mod = (await import(pathToFileURL(join(PKG, "dist", "index.js")).href)) as NodeLlama;
    // CPU only, never build or download: the package's prebuilt binaries or nothing
    return mod.getLlama({ gpu: false, build: "never", skipDownload: true, logLevel: mod.LlamaLogLevel.error });
  })();
  return llamaInstance;
}

/** The prebuilt libggml's CPU features as llama.cpp reports them (which prebuilt variant loaded). */
export async function prebuiltInfo(): Promise<string> {
  const llama = await nodeLlama();
  return String(llama.systemInfo ?? "?").replace(/\s+/g, " ").trim();
}

/** Greedy tokens of llama.cpp (prebuilt, through node-llama-cpp) after `prompt`. */
export async function llamaGreedy(gguf: string, prompt: number[], steps: number, threads = 2): Promise<number[]> {
  const llama = await nodeLlama();
  const model = await llama.loadModel({ modelPath: gguf });
  try {
    const ctx = await model.createContext({ contextSize: 256, threads });
    const seq = ctx.getSequence();
    const out: number[] = [];
    for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
      out.push(t);
      if (out.length === steps) break;
    }
    await ctx.dispose();
    return out;
  } finally {
    await model.dispose();
  }
}

export type LlamaTiming = { decode_ms_per_token: number; prefill_ms: number; decode_deep_ms: number; failed?: string[] };

/** The prebuilt build, timed like the DSL rows: a `promptLen`-token prompt, then `steps` greedy
 *  decode steps (mean ms/token); a `prefillLen`-token prompt on a cleared sequence (median of 3). */
export async function timePrebuilt(gguf: string, promptLen: number, steps: number, prefillLen: number, threads: number, deep: number, deepSteps: number): Promise<LlamaTiming> {
  const llama = await nodeLlama();
  const model = await llama.loadModel({ modelPath: gguf });
  try {
    const ctx = await model.createContext({ contextSize: Math.max(512, deep + deepSteps + 1), batchSize: 512, threads });
    const seq = ctx.getSequence();
    const prompt = Array.from({ length: promptLen }, (_, i) => 100 + i);
    let n = 0, t0 = 0;
    for await (const _ of seq.evaluate(prompt, { temperature: 0 })) {
      // the first token comes after the prompt: time the steps after it
      if (n === 0) t0 = performance.now();
      if (++n === steps + 1) break;
    }
    const decode = (performance.now() - t0) / steps;
    const pre = Array.from({ length: prefillLen }, (_, i) => 100 + i);
    const times: number[] = [];
    for (let r = 0; r < 4; r++) {
      await seq.clearHistory();
      const t = performance.now();
      await seq.evaluateWithoutGeneratingNewTokens(pre);
      if (r > 0) times.push(performance.now() - t); // the first one warms the buffers
    }
    // decode steps after a `deep`-token context (the steps after the first token, as above)
    await seq.clearHistory();
    let m = 0, t1 = 0;
    for await (const _ of seq.evaluate(Array.from({ length: deep }, (_, i) => 100 + (i % 5000)), { temperature: 0 })) {
      if (m === 0) t1 = performance.now();
      if (++m === deepSteps + 1) break;
    }
    const deepMs = (performance.now() - t1) / deepSteps;
    await ctx.dispose();
    times.sort((a, b) => a - b);
    return { decode_ms_per_token: decode, prefill_ms: times[1], decode_deep_ms: deepMs };
  } finally {
    await model.dispose();
  }
}

// ---------------------------------------------------------------------------------------------
// native (GGML_NATIVE build of the package's own llama.cpp source bundle)

function nativeDir(): string {
  const info = JSON.parse(readFileSync(join(PKG, "llama", "llama.cpp.info.json"), "utf8")) as { tag: string };
  return join(CACHE, "llamacpp", `native-${info.tag}`);
}

/** Path of the native llama-bench, building it first when missing (once; tens of minutes on 2
 *  cores). Returns an error string when it cannot be built. */
export function ensureNativeBuild(log: (s: string) => void = console.error): { bench: string } | { error: string } {
  const dir = nativeDir(), src = join(dir, "src"), build = join(dir, "build");
  const bench = join(build, "bin", "llama-bench");
  if (existsSync(bench)) return { bench };
  mkdirSync(dir, { recursive: true });
  const run = (cmd: string, args: string[], cwd = dir) => {
    const r = spawnSync("nice", ["-n", "5", cmd, ...args], { cwd, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
    return r.status === 0 ? null : `${cmd} ${args.slice(0, 3).join(" ")}: exit ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`;
  };
  log(`[bench] building llama.cpp with GGML_NATIVE from node-llama-cpp's source bundle into ${dir} (once)`);
  const steps: [string, string[]][] = [];
  if (!existsSync(join(src, "CMakeLists.txt"))) steps.push(["git", ["clone", "--quiet", join(PKG, "llama", "gitRelease.bundle"), src]]);
  steps.push(
    ["cmake", ["-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DGGML_NATIVE=ON", "-DBUILD_SHARED_LIBS=OFF",
      "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_APP=OFF", "-DLLAMA_OPENSSL=OFF", "-DLLAMA_CURL=OFF"]],
    ["cmake", ["--build", build, "--target", "llama-bench", "llama-simple", "-j", "2"]],
  );
  for (const [cmd, args] of steps) {
    const err = run(cmd, args);
    if (err) return { error: err };
  }
  return existsSync(bench) ? { bench } : { error: `${bench} missing after the build` };
}

/**
 * llama.cpp's llama-bench: tg`steps`, pp`prefillLen` and tg`deepSteps` at depth `deep`, each its own
 * run, so that one that dies (llama.cpp's AMX q8_0 product segfaults in prefill on a Sapphire Rapids
 * host, llama.cpp issue #20824) costs that figure only: it is NaN, and `failed` says why.
 */
export function timeNative(bench: string, gguf: string, steps: number, prefillLen: number, threads: number, reps: number, deep: number, deepSteps: number): LlamaTiming {
  const failed: string[] = [];
  const best = (what: string, extra: string[], pick: (t: { n_prompt: number; n_gen: number }) => boolean, per: number): number => {
    const r = spawnSync(bench, ["-m", gguf, "-t", String(threads), ...extra, "-r", String(reps), "-o", "json"], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (r.status !== 0) {
      failed.push(`${what}: llama-bench ${r.error ? `could not run (${r.error.message})` : r.signal ? `died of ${r.signal}` : `exited with ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-2).join(" | ")}`}`);
      return NaN;
    }
    const t = (JSON.parse(r.stdout) as { n_prompt: number; n_gen: number; samples_ns: number[] }[]).find(pick);
    return t ? Math.min(...t.samples_ns) / 1e6 / per : NaN;
  };
  return {
    decode_ms_per_token: best(`decode (tg${steps})`, ["-n", String(steps), "-p", "0"], (t) => t.n_gen === steps, steps),
    prefill_ms: best(`prefill (pp${prefillLen})`, ["-n", "0", "-p", String(prefillLen)], (t) => t.n_prompt === prefillLen, 1),
    // decode after a `deep`-token context: llama-bench's tg at depth (-d), best sample
    decode_deep_ms: best(`decode @${deep}`, ["-n", String(deepSteps), "-p", "0", "-d", String(deep)], (t) => t.n_gen === deepSteps, deepSteps),
    ...(failed.length ? { failed } : {}),
  };
}

/** CPU variant and flags llama-bench reports (for the header line). */
export function nativeInfo(bench: string, gguf: string): string {
  const r = spawnSync(bench, ["-m", gguf, "-t", "1", "-n", "1", "-p", "0", "-r", "1", "-o", "json"], { encoding: "utf8" });
  try {
    const t = JSON.parse(r.stdout)[0];
    return `${t.build_commit ?? "?"} (${t.backends ?? "CPU"}, ${t.cpu_info ?? ""})`;
  } catch {
    return "?";
  }
}

// `node dist/bench/llamacpp.js`: install the bench-only package and make the native build ahead of
// `npm run bench` (which would otherwise do both on its first run).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const err = ensureLlamaPackage();
  if (err) { console.error(err); process.exitCode = 1; } else {
    const b = ensureNativeBuild();
    if ("error" in b) { console.error(`native build failed: ${b.error}`); process.exitCode = 1; } else console.log(`llama.cpp ready: prebuilt (node-llama-cpp) and native ${b.bench}`);
  }
}
