// `tensorcore kernel install|uninstall|spec`: writes the kernelspec (kernelspec/kernel.json with
// this checkout's node and compiled kernel entry, and the logos) where Jupyter looks for it.

import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LANGUAGE_INFO } from "./syntax.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/kernel
const root = resolve(here, "../..");
const specDir = join(root, "kernelspec");
const kernelMain = join(here, "main.js");
const labextension = join(root, "labextension/prebuilt"); // the .ta language for JupyterLab

const USAGE = `usage:
  tensorcore kernel install [--user | --sys-prefix | --prefix P] [--name NAME] [--display-name TEXT]
  tensorcore kernel uninstall [--user | --sys-prefix | --prefix P] [--name NAME]
  tensorcore kernel spec          print the kernel.json that install writes`;

/** The kernel.json for this checkout: argv runs this node on the compiled kernel entry. */
export function kernelSpec(displayName?: string): Record<string, unknown> {
  const spec = JSON.parse(readFileSync(join(specDir, "kernel.json"), "utf8"));
  spec.argv = spec.argv.map((a: string) => (a === "@NODE@" ? process.execPath : a === "@KERNEL_MAIN@" ? kernelMain : a));
  if (displayName) spec.display_name = displayName;
  spec.metadata = { ...spec.metadata, language_info: LANGUAGE_INFO }; // what kernel_info reports
  return spec;
}

function userDataDir(): string {
  if (process.env.JUPYTER_DATA_DIR) return process.env.JUPYTER_DATA_DIR;
  if (platform() === "darwin") return join(homedir(), "Library/Jupyter");
  if (platform() === "win32") return join(process.env.APPDATA ?? homedir(), "jupyter");
  return join(process.env.XDG_DATA_HOME || join(homedir(), ".local/share"), "jupyter");
}

function sysPrefix(): string {
  const env = process.env.VIRTUAL_ENV || process.env.CONDA_PREFIX;
  if (env) return env;
  const venv = join(root, ".venv");
  if (existsSync(join(venv, "bin/python"))) return venv;
  const r = spawnSync("python3", ["-c", "import sys; print(sys.prefix)"], { encoding: "utf8" });
  if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  throw new Error("--sys-prefix: no Python found (activate the environment Jupyter runs in, or use --prefix)");
}

function kernelsDir(argv: string[]): string {
  const i = argv.indexOf("--prefix");
  if (i >= 0) {
    const p = argv[i + 1];
    if (!p) throw new Error("--prefix needs a directory");
    return join(resolve(p), "share/jupyter/kernels");
  }
  if (argv.includes("--sys-prefix")) return join(sysPrefix(), "share/jupyter/kernels");
  return join(userDataDir(), "kernels");
}

function option(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export function install(argv: string[]): string {
  if (!existsSync(kernelMain)) throw new Error(`${kernelMain} is missing: build first (npx tsc -p tsconfig.json)`);
  const name = option(argv, "--name") ?? "tensorcore";
  const dest = join(kernelsDir(argv), name);
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(dest, "kernel.json"), JSON.stringify(kernelSpec(option(argv, "--display-name")), null, 2) + "\n");
  for (const logo of ["logo-32x32.png", "logo-64x64.png"]) copyFileSync(join(specDir, logo), join(dest, logo));
  installLabextension(dirname(dirname(dest)));
  return dest;
}

/** The prebuilt .ta language extension, beside the kernels: DATA/labextensions/tensorcore-lab. */
export function installLabextension(dataDir: string): string | undefined {
  if (!existsSync(join(labextension, "package.json"))) return undefined;
  const dest = join(dataDir, "labextensions", "tensorcore-lab");
  rmSync(dest, { recursive: true, force: true });
  cpSync(labextension, dest, { recursive: true });
  return dest;
}

export async function kernelCommand(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case "install": {
        const dest = install(rest);
        console.log(`installed the TensorCore kernelspec in ${dest}\n(\`jupyter kernelspec list\` shows it; pick "TensorCore" in JupyterLab's launcher)`);
        return 0;
      }
      case "uninstall": {
        const dest = join(kernelsDir(rest), option(rest, "--name") ?? "tensorcore");
        if (!existsSync(dest)) { console.error(`tensorcore: no kernelspec at ${dest}`); return 1; }
        rmSync(dest, { recursive: true, force: true });
        console.log(`removed ${dest}`);
        return 0;
      }
      case "spec":
        console.log(JSON.stringify(kernelSpec(), null, 2));
        return 0;
      case undefined: case "help": case "--help": case "-h":
        console.log(USAGE);
        return cmd === undefined ? 1 : 0;
      default:
        console.error(`tensorcore: unknown kernel command '${cmd}'\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    console.error(`tensorcore: ${(e as Error).message}`);
    return 1;
  }
}
