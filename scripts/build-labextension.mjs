// Builds the JupyterLab extension for the .ta language (labextension/) into labextension/prebuilt,
// the folder the repository ships and set-up installs (scripts/ensure-labextension.sh). Run it after
// `npx tsc -p tsconfig.json` when the language's words change (new intrinsics, magics, precisions):
//   node scripts/build-labextension.mjs
// It needs the npm registry once (labextension's own packages: @jupyterlab/builder, webpack) and
// the .venv's JupyterLab (its staging/package.json is the "core" the extension is built against).
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ext = join(root, "labextension");
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: "inherit", ...opts });
  if (r.status !== 0) { console.error(`build-labextension: ${cmd} ${args.join(" ")} failed`); process.exit(1); }
};

// 1. The word lists, from the compiler's tables (dist/ must be built).
const words = join(root, "dist/kernel/language-words.js");
if (!existsSync(words)) { console.error("build-labextension: build first (npx tsc -p tsconfig.json)"); process.exit(1); }
const { languageWords } = await import(pathToFileURL(words).href);
writeFileSync(join(ext, "src/words.json"), JSON.stringify(languageWords(), null, 1) + "\n");

// 2. The extension's build packages.
if (!existsSync(join(ext, "node_modules/@jupyterlab/builder"))) run("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: ext });

// 3. JupyterLab's builder against the installed JupyterLab (what `jupyter labextension build` runs).
const python = join(root, ".venv/bin/python");
const core = spawnSync(python, ["-c", "import jupyterlab, os; print(os.path.join(os.path.dirname(jupyterlab.__file__), 'staging'))"], { encoding: "utf8" });
if (core.status !== 0) { console.error("build-labextension: no JupyterLab in .venv (bash scripts/ensure-python.sh)"); process.exit(1); }
run(process.execPath, [join(ext, "node_modules/@jupyterlab/builder/lib/build-labextension.js"), "--core-path", core.stdout.trim(), ext], { cwd: ext });
console.log(`built ${join(ext, "prebuilt")}`);
