// Assembles interpreter/fast/wasm/*.wat into dist/interpreter/fast/wasm/*.wasm (run by scripts/setup.sh after
// tsc). Rebuilds only when the text is newer than the binary.
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, renameSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import initWabt from "wabt";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
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
  writeFileSync(to + ".tmp", buffer);
  renameSync(to + ".tmp", to);
  console.log(`[wasm] ${f} -> ${to.slice(root.length + 1)} (${buffer.length} bytes)`);
}
