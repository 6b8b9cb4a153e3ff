// `tensorcore kernel install|uninstall|spec`: writes the kernelspec (kernelspec/kernel.json with
// this checkout's node and compiled kernel entry, and the logos) where Jupyter looks for it.

import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir, platform } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CommandGroup, CommandSpec, groupCommand, OptionSpec, parseCommand, UsageError } from "../cli/args.js";
import { LANGUAGE_INFO } from "./syntax.js";

const here = dirname(fileURLToPath(import.meta.url)); // dist/kernel
const root = resolve(here, "../..");
const specDir = join(root, "kernelspec");
const kernelMain = join(here, "main.js");
const labextension = join(root, "labextension/prebuilt"); // the .ta language for JupyterLab

const WHERE = {
  user: { type: "boolean", description: "this user's Jupyter data folder (the default)" },
  "sys-prefix": { type: "boolean", description: "the active Python environment ($VIRTUAL_ENV, $CONDA_PREFIX, else this checkout's .venv)" },
  prefix: { type: "string", value: "DIR", description: "DIR/share/jupyter/kernels" },
  name: { type: "string", value: "NAME", description: "kernelspec folder name", default: "tensorcore" },
} as const satisfies Record<string, OptionSpec>;

export const KERNEL_INSTALL = {
  name: "kernel install",
  summary: "Install the TensorCore kernelspec (this checkout's node and kernel entry, and the logos) where Jupyter looks for it.",
  usage: "[--user | --sys-prefix | --prefix DIR] [options]",
  options: { ...WHERE, "display-name": { type: "string", value: "TEXT", description: "the name JupyterLab's launcher shows", default: "TensorCore" } },
} as const satisfies CommandSpec;

export const KERNEL_UNINSTALL = {
  name: "kernel uninstall",
  summary: "Remove an installed TensorCore kernelspec.",
  usage: "[--user | --sys-prefix | --prefix DIR] [--name NAME]",
  options: WHERE,
} as const satisfies CommandSpec;

export const KERNEL_SPEC = {
  name: "kernel spec",
  summary: "Print the kernel.json that install writes (nothing is written).",
  usage: "",
  options: {},
} as const satisfies CommandSpec;

export const KERNEL_GROUP: CommandGroup = {
  name: "kernel",
  summary: "The TensorCore Jupyter kernel's kernelspec.",
  commands: [KERNEL_INSTALL, KERNEL_UNINSTALL, KERNEL_SPEC].map((c) => ({ name: c.name.slice("kernel ".length), summary: c.summary })),
};

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
  throw new UsageError("--sys-prefix: no Python found (activate the environment Jupyter runs in, or use --prefix)");
}

type Where = { user: boolean; "sys-prefix": boolean; prefix: string | undefined };

function kernelsDir(w: Where): string {
  if ([w.user, w["sys-prefix"], w.prefix !== undefined].filter(Boolean).length > 1)
    throw new UsageError("--user, --sys-prefix and --prefix exclude each other");
  if (w.prefix !== undefined) return join(resolve(w.prefix), "share/jupyter/kernels");
  if (w["sys-prefix"]) return join(sysPrefix(), "share/jupyter/kernels");
  return join(userDataDir(), "kernels");
}

/** The files install writes into a kernelspec folder (uninstall removes these and nothing else). */
const SPEC_FILES = ["kernel.json", "logo-32x32.png", "logo-64x64.png"];

/** A kernelspec folder name as Jupyter allows them: letters, digits, '.', '_' and '-', never a path. */
function specFolder(w: Where, name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name === "." || name === "..")
    throw new UsageError(`--name '${name}': a kernelspec name is letters, digits, '.', '_' and '-' (a folder name, not a path)`);
  return join(kernelsDir(w), name);
}

/** Why the kernelspec folder `dest` is not one this command wrote (its kernel.json is not TensorCore's), or null. */
function notOurs(dest: string): string | null {
  const file = join(dest, "kernel.json");
  if (!existsSync(file)) return "it has no kernel.json";
  let spec: unknown;
  try {
    spec = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    return "its kernel.json is not JSON";
  }
  const language = (spec as { language?: unknown } | null)?.language;
  return language === "tensorcore" ? null : `its kernel.json is for ${typeof language === "string" ? `the language '${language}'` : "another kernel"}`;
}

/** Writes the kernelspec; returns the folder. Another kernel's kernelspec of that name is left alone. */
export function install(opts: Where & { name: string; "display-name": string }): string {
  if (!existsSync(kernelMain)) throw new UsageError(`${kernelMain} is missing: build first (npx tsc -p tsconfig.json)`);
  const dest = specFolder(opts, opts.name);
  if (existsSync(dest) && !statSync(dest).isDirectory()) throw new UsageError(`${dest} is a file, not a kernelspec folder; nothing written`);
  if (existsSync(dest) && readdirSync(dest).length > 0) {
    const why = notOurs(dest);
    if (why) throw new UsageError(`${dest} is not a TensorCore kernelspec (${why}); nothing written: pick another --name`);
  }
  installLabextension(dirname(dirname(dest))); // first: it may refuse, and then nothing is written
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(dest, "kernel.json"), JSON.stringify(kernelSpec(opts["display-name"]), null, 2) + "\n");
  for (const logo of ["logo-32x32.png", "logo-64x64.png"]) copyFileSync(join(specDir, logo), join(dest, logo));
  return dest;
}

/** Removes the kernelspec's files, and its folder if nothing else is in it; returns what was left there. */
export function uninstall(opts: Where & { name: string }): { dest: string; kept: string[] } {
  const dest = specFolder(opts, opts.name);
  if (!existsSync(dest) || !statSync(dest).isDirectory()) throw new UsageError(`no kernelspec at ${dest}`);
  const why = notOurs(dest);
  if (why) throw new UsageError(`${dest} is not a TensorCore kernelspec (${why}); nothing removed`);
  for (const f of SPEC_FILES) rmSync(join(dest, f), { force: true });
  const kept = readdirSync(dest);
  if (kept.length === 0) rmdirSync(dest);
  return { dest, kept };
}

/** The prebuilt .ta language extension, beside the kernels: DATA/labextensions/tensorcore-lab. */
export function installLabextension(dataDir: string): string | undefined {
  if (!existsSync(join(labextension, "package.json"))) return undefined;
  const dest = join(dataDir, "labextensions", "tensorcore-lab");
  // replaced only when it is this extension (an earlier install); anything else there is kept
  if (existsSync(dest)) {
    const name = (file: string) => { try { return JSON.parse(readFileSync(file, "utf8")).name; } catch { return undefined; } };
    if (name(join(dest, "package.json")) !== name(join(labextension, "package.json")))
      throw new UsageError(`${dest} holds something other than the TensorCore language extension; nothing replaced there (move it away to install)`);
    rmSync(dest, { recursive: true, force: true });
  }
  cpSync(labextension, dest, { recursive: true });
  return dest;
}

export async function kernelCommand(argv: string[]): Promise<number> {
  const cmd = groupCommand(KERNEL_GROUP, argv);
  const rest = argv.slice(1);
  switch (cmd) {
    case undefined: return 0;
    case "install": {
      const p = parseCommand(KERNEL_INSTALL, rest);
      if (p.help) return 0;
      const dest = install(p.values);
      console.log(`installed the TensorCore kernelspec in ${dest}\n(\`jupyter kernelspec list\` shows it; pick "${p.values["display-name"]}" in JupyterLab's launcher)`);
      return 0;
    }
    case "uninstall": {
      const p = parseCommand(KERNEL_UNINSTALL, rest);
      if (p.help) return 0;
      const { dest, kept } = uninstall(p.values);
      console.log(kept.length ? `removed the kernelspec's files from ${dest}; left the folder and what else is in it (${kept.join(", ")})` : `removed ${dest}`);
      return 0;
    }
    default: {
      const p = parseCommand(KERNEL_SPEC, rest);
      if (p.help) return 0;
      console.log(JSON.stringify(kernelSpec(), null, 2));
      return 0;
    }
  }
}
