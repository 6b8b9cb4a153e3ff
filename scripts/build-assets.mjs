// The build's non-TypeScript outputs (run by `npm run build` and scripts/setup.sh after tsc):
//   interpreter/fast/wasm/*.wat assembled into dist/interpreter/fast/wasm/*.wasm when the text is newer
//   compiler/eigen/runtime/*    the eigen back end's C++ runtime, copied to dist/compiler/eigen/runtime/
//                               (read there by compiler/eigen/runtime.ts) when the contents differ
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import initWabt from "wabt";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const rel = (p) => p.slice(root.length + 1);

/** Writes under a temporary name and renames, so a reader never sees half a file. */
function writeAtomic(to, data) {
  writeFileSync(to + ".tmp", data);
  renameSync(to + ".tmp", to);
}

// 1. WebAssembly kernels
{
  const src = join(root, "interpreter", "fast", "wasm"), out = join(root, "dist", "interpreter", "fast", "wasm");
  mkdirSync(out, { recursive: true });
  let wabt;
  for (const f of readdirSync(src).filter((f) => f.endsWith(".wat"))) {
    const from = join(src, f), to = join(out, f.replace(/\.wat$/, ".wasm"));
    if (existsSync(to) && statSync(to).mtimeMs >= statSync(from).mtimeMs) continue;
    wabt ??= await initWabt();
    const mod = wabt.parseWat(f, readFileSync(from, "utf8"), { simd: true, threads: true });
    const { buffer } = mod.toBinary({});
    new WebAssembly.Module(buffer); // V8 validates it (wabt's validator rejects shared memories)
    writeAtomic(to, buffer);
    console.log(`[wasm] ${f} -> ${rel(to)} (${buffer.length} bytes)`);
  }
}

// 2. C++ runtime: compared by content, so an untouched file keeps its mtime (the eigen cache keys
// hash the contents anyway)
{
  const src = join(root, "compiler", "eigen", "runtime"), out = join(root, "dist", "compiler", "eigen", "runtime");
  mkdirSync(out, { recursive: true });
  for (const f of readdirSync(src).filter((f) => /\.(h|cpp)$/.test(f))) {
    const data = readFileSync(join(src, f)), to = join(out, f);
    if (existsSync(to) && readFileSync(to).equals(data)) continue;
    writeAtomic(to, data);
    console.log(`[runtime] ${f} -> ${rel(to)}`);
  }
}
