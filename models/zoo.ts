// The project's own models, made by python-ref on demand (the hub is out of reach): HF
// save_pretrained folders converted to DSL model folders, cached per user so that a warm test
// or bench run builds nothing.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir as userCacheDir } from "../runtime/model-folder.js";
import { REPO_ROOT } from "./causal-lm.js";

export const PYTHON = join(REPO_ROOT, ".venv", "bin", "python");
export const CACHE = userCacheDir();

function py(args: string[]): void {
  const r = spawnSync(PYTHON, ["-m", "tensorcore_ref", ...args], { encoding: "utf8", env: { ...process.env, HF_HUB_OFFLINE: "1" } });
  if (r.status !== 0) throw new Error(`python -m tensorcore_ref ${args.join(" ")} failed:\n${r.stderr}`);
}

export interface ZooModel { name: string; hf: string; dsl: string }

/** What a cached folder was made by: the model makers, convert and the weight tables. A change rebuilds it. */
const MAKERS = ["python-ref/tensorcore_ref/make_models.py", "python-ref/tensorcore_ref/convert.py",
  "models/gpt2/weights.json", "models/llama/weights.json", "models/gpt_neox/weights.json"];
function makersHash(args: string[]): string {
  const h = createHash("sha256").update(JSON.stringify(args));
  for (const f of MAKERS) h.update(readFileSync(join(REPO_ROOT, f)));
  return h.digest("hex");
}

/** name is a python-ref `make-model` name; extra are its options (e.g. --layers 3 --heads 6 --width 192). */
export function ensureModel(name: string, extra: string[] = [], tag = name): ZooModel {
  const root = join(CACHE, "test-models", tag);
  const hf = join(root, "hf"), dsl = join(root, "dsl"), stamp = join(root, "made-by.sha256");
  const want = makersHash([name, ...extra]);
  if (!existsSync(join(dsl, "manifest.json")) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== want) {
    rmSync(root, { recursive: true, force: true });
    py(["make-model", name, "--out", hf, ...extra]);
    py(["convert", hf, "--out", dsl]);
    writeFileSync(stamp, want);
  }
  return { name: tag, hf, dsl };
}

/** Another DSL folder converted from a zoo model's HF folder (e.g. --dtype int8), cached beside it. */
export function ensureConversion(model: ZooModel, tag: string, convertExtra: string[]): string {
  const out = join(model.dsl, "..", `dsl-${tag}`), stamp = `${out}.sha256`;
  const want = makersHash([model.hf, ...convertExtra]);
  if (!existsSync(join(out, "manifest.json")) || !existsSync(stamp) || readFileSync(stamp, "utf8") !== want) {
    py(["convert", model.hf, "--out", out, ...convertExtra]);
    writeFileSync(stamp, want);
  }
  return out;
}

export const pythonAvailable = (): boolean => existsSync(PYTHON);
