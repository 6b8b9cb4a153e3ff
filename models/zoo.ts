// The project's own models, made by python-ref on demand (the hub is out of reach): HF
// save_pretrained folders converted to DSL model folders, cached per user so that a warm test
// or bench run builds nothing.

import { spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "./causal-lm.js";

export const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
export const CACHE = process.env.TENSORCORE_CACHE ?? join(homedir(), ".cache", "tensorcore");

function py(args: string[]): void {
  const r = spawnSync(PYTHON, ["-m", "tensorcore_ref", ...args], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
  if (r.status !== 0) throw new Error(`python -m tensorcore_ref ${args.join(" ")} failed:\n${r.stderr}`);
}

export interface ZooModel { name: string; hf: string; dsl: string }

/** name is a python-ref `make-model` name; extra are its options (e.g. --layers 3 --heads 6 --width 192). */
export function ensureModel(name: string, extra: string[] = [], tag = name): ZooModel {
  const root = join(CACHE, "test-models", tag);
  const hf = join(root, "hf"), dsl = join(root, "dsl");
  if (!existsSync(join(dsl, "manifest.json"))) {
    rmSync(root, { recursive: true, force: true });
    py(["make-model", name, "--out", hf, ...extra]);
    py(["convert", hf, "--out", dsl]);
  }
  return { name: tag, hf, dsl };
}

export const pythonAvailable = (): boolean => existsSync(PYTHON);
