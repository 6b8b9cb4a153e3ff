// Shared by the e2e suites: install the kernelspec into a temp prefix and run a Jupyter server
// (127.0.0.1, a random token and a free port) that sees only that prefix's kernels.

import { ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "../../kernel/client.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const VENV = join(ROOT, ".venv/bin");

export interface JupyterEnv {
  prefix: string;
  root: string; // the server's notebook directory
  env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** A temp prefix with the tensorcore kernelspec installed by `tensorcore kernel install --prefix`. */
export function jupyterEnv(): JupyterEnv {
  const prefix = mkdtempSync(join(tmpdir(), "tc-jupyter-"));
  const root = join(prefix, "notebooks");
  mkdirSync(root);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    JUPYTER_PATH: join(prefix, "share/jupyter"),
    JUPYTER_DATA_DIR: join(prefix, "data"),
    JUPYTER_CONFIG_DIR: join(prefix, "config"),
    JUPYTER_RUNTIME_DIR: join(prefix, "runtime"),
    JUPYTERLAB_SETTINGS_DIR: join(prefix, "lab-settings"),
    JUPYTERLAB_WORKSPACES_DIR: join(prefix, "lab-workspaces"),
    IPYTHONDIR: join(prefix, "ipython"),
  };
  const r = spawnSync(process.execPath, [join(ROOT, "bin/tensorcore.js"), "kernel", "install", "--prefix", prefix], { encoding: "utf8", env });
  if (r.status !== 0) throw new Error(`kernel install failed: ${r.stderr}`);
  const list = spawnSync(join(VENV, "jupyter"), ["kernelspec", "list", "--json"], { encoding: "utf8", env });
  if (!JSON.parse(list.stdout).kernelspecs.tensorcore) throw new Error(`jupyter kernelspec list does not show tensorcore: ${list.stdout}`);
  return { prefix, root, env, cleanup: () => rmSync(prefix, { recursive: true, force: true }) };
}

export interface JupyterServer { url: string; token: string; proc: ChildProcess; log: () => string; stop(): Promise<void> }

/** `jupyter server` (or `jupyter lab`) on a free port; resolves once /api/status answers. */
export async function startServer(je: JupyterEnv, app: "server" | "lab" = "server"): Promise<JupyterServer> {
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  let log = "";
  const args = [app, "--no-browser", "--ip=127.0.0.1", `--port=${port}`, `--IdentityProvider.token=${token}`, `--ServerApp.root_dir=${je.root}`, "--ServerApp.port_retries=0"];
  if (process.getuid?.() === 0) args.push("--allow-root");
  const proc = spawn(join(VENV, "jupyter"), args, { env: je.env, stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout!.on("data", (d) => { log += d; });
  proc.stderr!.on("data", (d) => { log += d; });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`jupyter ${app} exited: ${log}`);
    try {
      const r = await fetch(`${url}/api/status`, { headers: { Authorization: `token ${token}` } });
      if (r.ok) break;
    } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`jupyter ${app} did not start: ${log}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url, token, proc, log: () => log,
    stop: async () => {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => proc.on("exit", r)), new Promise((r) => { timer = setTimeout(r, 5000); })]);
      clearTimeout(timer);
      if (proc.exitCode === null) proc.kill("SIGKILL");
    },
  };
}

export const hasVenv = () => existsSync(join(VENV, "jupyter"));
