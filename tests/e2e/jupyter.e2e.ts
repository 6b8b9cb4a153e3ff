// Through a real Jupyter server: the installed kernelspec, driven with @jupyterlab/services
// (REST + WebSocket, as JupyterLab does), and the tour notebook executed headless by nbclient.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { KernelManager, KernelSpecManager, ServerConnection, SessionManager, KernelMessage, Kernel } from "@jupyterlab/services";
import { jupyterEnv, JupyterEnv, JupyterServer, ROOT, startServer, VENV } from "./jupyter-server.js";

const WebSocket = createRequire(import.meta.url)("ws");

const openKernels: Kernel.IKernelConnection[] = [];
let je: JupyterEnv, server: JupyterServer, settings: ServerConnection.ISettings, kernels: KernelManager, sessions: SessionManager;

test.before(async () => {
  je = jupyterEnv();
  server = await startServer(je);
  settings = ServerConnection.makeSettings({ baseUrl: server.url + "/", wsUrl: server.url.replace("http", "ws") + "/", token: server.token, appendToken: true, WebSocket, fetch, Request, Headers } as Partial<ServerConnection.ISettings>);
  kernels = new KernelManager({ serverSettings: settings });
  sessions = new SessionManager({ serverSettings: settings, kernelManager: kernels });
});

test.after(async () => {
  // Shut kernels down and drop their connections before the server goes, or their websockets
  // keep retrying (and keep this process alive) after it is gone.
  await sessions?.shutdownAll().catch(() => undefined);
  await kernels?.shutdownAll().catch(() => undefined);
  for (const c of openKernels) c.dispose();
  sessions?.dispose();
  kernels?.dispose();
  const t = Date.now();
  await server?.stop();
  je?.cleanup();
  console.log(`  (server stopped in ${Date.now() - t} ms)`);
});

async function execute(k: Kernel.IKernelConnection, code: string) {
  const iopub: KernelMessage.IIOPubMessage[] = [];
  const future = k.requestExecute({ code, stop_on_error: false });
  future.onIOPub = (m) => { iopub.push(m); };
  const reply = await future.done;
  return { reply: reply.content, iopub, types: iopub.map((m) => m.header.msg_type).filter((t) => t !== "status") };
}

let t0 = Date.now();
test.before.each(() => { t0 = Date.now(); });
test.after.each(() => { console.log(`  (${Date.now() - t0} ms)`); });

test("the server lists the tensorcore kernelspec", async () => {
  const specs = new KernelSpecManager({ serverSettings: settings });
  await specs.ready;
  await specs.refreshSpecs();
  const spec = specs.specs!.kernelspecs.tensorcore!;
  assert.ok(spec, "tensorcore is listed");
  assert.is(spec.language, "tensorcore");
  assert.is(spec.display_name, "TensorCore");
  assert.ok(Object.keys(spec.resources).some((r) => r.includes("logo-64x64")), "logos are served");
  specs.dispose();
});

test("a notebook session: execute, outputs and MIME bundles, errors, complete, inspect, interrupt, restart", async () => {
  const session = await sessions.startNew({ path: "drive-test.ipynb", type: "notebook", name: "drive-test.ipynb", kernel: { name: "tensorcore" } });
  const k = session.kernel!;
  openKernels.push(k);
  const info = await k.info;
  assert.is(info.language_info.name, "tensorcore");

  const a = await execute(k, "type V = Tensor<f32, {4}>;\nV x;\nx = 1.5;\nREDUCE(x);\nx");
  assert.is(a.reply.status, "ok");
  assert.equal(a.types, ["execute_input", "stream", "execute_result"]);
  const result = a.iopub.find((m) => m.header.msg_type === "execute_result")!.content as KernelMessage.IExecuteResultMsg["content"];
  assert.match(String(result.data["text/plain"]), "[1.5, 1.5, 1.5, 1.5]");
  assert.match(String(result.data["text/html"]), "min 1.5 · max 1.5 · mean 1.5");

  const s = await execute(k, "type S = Tensor<f32, {4, 4}>;\nS s;\ns = 1;\nCAUSAL_MASK(s, 0);\n%heatmap SOFTMAX(s)");
  const disp = s.iopub.find((m) => m.header.msg_type === "display_data")!.content as KernelMessage.IDisplayDataMsg["content"];
  assert.ok(disp.data["application/vnd.plotly.v1+json"], "plotly figure");
  assert.match(String(disp.data["image/svg+xml"]), "<svg");
  assert.not.match(JSON.stringify(disp.data), "<script", "figures are data, not code");

  const e = await execute(k, "x = y;");
  assert.is(e.reply.status, "error");
  const err = e.iopub.find((m) => m.header.msg_type === "error")!.content as KernelMessage.IErrorMsg["content"];
  assert.match(err.traceback.join("\n"), /cell\[\d+\]:1:5: error: undefined name 'y'/);
  assert.match(err.traceback.join("\n"), "  x = y;\n      ^");

  const c = await k.requestComplete({ code: "REDUCE(x); SOFT", cursor_pos: 15 });
  assert.ok((c.content as KernelMessage.ICompleteReplyMsg["content"] & { matches: string[] }).matches.includes("SOFTMAX"));
  const i = await k.requestInspect({ code: "x", cursor_pos: 1, detail_level: 0 });
  assert.match(String((i.content as { data: Record<string, string> }).data["text/plain"]), "Tensor<f32, {4}, Global, RowMajor>");

  // interrupt through the server (interrupt_mode: message → interrupt_request on control)
  const loop = k.requestExecute({ code: "type C = Tensor<f32, {1}>;\nC n;\nbatch(i = 0..100000000 step 1) { n = n + 1; }", stop_on_error: false });
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  await k.interrupt();
  const lr = await loop.done;
  assert.is(lr.content.status, "error");
  assert.ok(Date.now() - t0 < 1500, `interrupt took ${Date.now() - t0} ms`);
  assert.is((await execute(k, "REDUCE(x);")).reply.status, "ok");

  // restart: a fresh session (x is gone), the kernel answers again
  await k.restart();
  const after = await execute(k, "x");
  assert.is(after.reply.status, "error");
  assert.is((await execute(k, "1 + 1")).reply.status, "ok");
  await session.shutdown();
  k.dispose();
  session.dispose();
});

test("the tour notebook runs top to bottom under nbclient", async () => {
  copyFileSync(join(ROOT, "notebooks/tensorcore-tour.ipynb"), join(je.root, "tour.ipynb"));
  const out = join(je.root, "tour-executed.ipynb");
  const r = spawnSync(join(VENV, "jupyter"), ["nbconvert", "--to", "notebook", "--execute", "--ExecutePreprocessor.timeout=60", "--output", out, join(je.root, "tour.ipynb")], { env: je.env, encoding: "utf8", timeout: 120000 });
  assert.is(r.status, 0, r.stderr);
  const nb = JSON.parse(readFileSync(out, "utf8"));
  const outputs = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code").flatMap((c: { outputs: Record<string, unknown>[] }) => c.outputs);
  assert.is(outputs.filter((o: Record<string, unknown>) => o.output_type === "error").length, 0);
  const mimes = outputs.flatMap((o: { data?: Record<string, unknown> }) => Object.keys(o.data ?? {}));
  assert.ok(mimes.includes("text/html"), "a table");
  assert.is(mimes.filter((m: string) => m === "application/vnd.plotly.v1+json").length, 2, "a heatmap and a line plot");
  assert.is(mimes.filter((m: string) => m === "image/svg+xml").length, 2, "each with its static picture");
  assert.ok(readFileSync(out, "utf8").length < 200_000, "no plotly.js in the saved notebook");
  assert.ok(outputs.some((o: { text?: string | string[] }) => [o.text ?? ""].flat().join("") === "14\n"), "REDUCE output");
  // and nbconvert's HTML export keeps the figures: the SVG pictures, drawn without plotly.js
  const html = spawnSync(join(VENV, "jupyter"), ["nbconvert", "--to", "html", "--output", join(je.root, "tour.html"), out], { env: je.env, encoding: "utf8" });
  assert.is(html.status, 0, html.stderr);
  const page = readFileSync(join(je.root, "tour.html"), "utf8");
  // (nbconvert embeds each SVG as a data: URL in an <img>)
  const svgs = [...page.matchAll(/data-mime-type="image\/svg\+xml"[^>]*>\s*<img[^>]*src="data:image\/svg\+xml;base64,([^"]+)"/g)].map((m) => Buffer.from(m[1], "base64").toString("utf8"));
  assert.is(svgs.length, 2, "the heatmap and the line plot as SVG");
  assert.match(svgs[0], "tc-colorkey");
  assert.not.match(page, "plotly.js is not loaded");
});

test("the official jupyter_kernel_test suite passes with .ta samples", () => {
  const r = spawnSync(join(VENV, "python"), ["-m", "pytest", "-q", "-p", "no:cacheprovider", join(ROOT, "tests/e2e/kernel_conformance.py")], { env: je.env, encoding: "utf8", timeout: 300000 });
  const out = (r.stdout ?? "") + (r.stderr ?? "");
  assert.is(r.status, 0, out.slice(-4000));
  const passed = Number(/(\d+) passed/.exec(out)?.[1] ?? 0);
  // kernel_info, completion, is_complete, error, execute_result, display_data, history, inspect (the rest: no strings to print)
  assert.ok(passed >= 8, out.slice(-2000));
});

test.run();
