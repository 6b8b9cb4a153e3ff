// The compile cache is verified before it is loaded: a truncated, altered or unrecorded .so is
// rebuilt, never dlopened (a truncated one used to kill every later run with SIGBUS); temporaries
// that killed builds left behind are removed once stale, and nothing else ever is; an abort kills
// the compiler and leaves no temporaries; callers that share a runtime build are interrupted one by
// one, and the build stops only when none waits for it.

import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkSource } from "../compiler/checker.js";
import { Interrupted } from "../compiler/diagnostics.js";
import { buildSharedObject, cacheDir, cleanStaleTemporaries, STALE_AFTER_MS, verifiedObject } from "../compiler/eigen/build.js";
import { emitCpp } from "../compiler/eigen/emit-cpp.js";

/** A translation unit no cache holds yet (a fresh constant). */
function freshUnit(): { code: string; src: string } {
  const src = `type V = Tensor<f32, {4}>;\nkernel k(V x) { x = x * 2 + ${Math.random().toFixed(12)}; }\n`;
  const { program } = checkSource("c.ta", src);
  return { code: emitCpp(program.kernels).code, src };
}
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

test("a truncated, altered or unrecorded cached .so is rebuilt, not loaded", async () => {
  const { code } = freshUnit();
  const a = await buildSharedObject(code, []);
  assert.is(a.cached, false);
  const good = sha(a.so), size = statSync(a.so).size;
  const rec = JSON.parse(readFileSync(a.so + ".sum", "utf8"));
  assert.equal([rec.size, rec.sha256], [size, good]);
  assert.is((await buildSharedObject(code, [])).cached, true);
  // truncated (what a full disk or a killed copy leaves)
  truncateSync(a.so, Math.floor(size / 2));
  assert.not.ok(verifiedObject(a.so));
  const b = await buildSharedObject(code, []);
  assert.is(b.cached, false);
  assert.ok(verifiedObject(b.so));
  assert.is(statSync(b.so).size, size);
  // one byte changed, same size
  const bytes = readFileSync(b.so);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(b.so, bytes);
  assert.is((await buildSharedObject(code, [])).cached, false);
  // no record (a cache written by an older version, or a crash between the two renames)
  rmSync(b.so + ".sum");
  assert.is((await buildSharedObject(code, [])).cached, false);
  assert.is((await buildSharedObject(code, [])).cached, true);
});

test("end to end: a run after the cached .so was truncated rebuilds it and exits cleanly (no SIGBUS)", async () => {
  const { code, src } = freshUnit();
  const { so } = await buildSharedObject(code, []);
  truncateSync(so, 4096);
  const dir = mkdtempSync(join(tmpdir(), "tc-cache-"));
  try {
    const file = join(dir, "c.ta");
    writeFileSync(file, src);
    const r = spawnSync(process.execPath, ["bin/tensorcore.js", "run", file, "--backend", "eigen", "--json"], { encoding: "utf8", env: process.env, timeout: 120_000 });
    assert.is(r.signal, null, `killed by ${r.signal}`);
    assert.is(r.status, 0, r.stderr);
    assert.ok(verifiedObject(so));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("stale temporaries of dead builds are removed; live, young and foreign files are kept", () => {
  const dir = mkdtempSync(join(tmpdir(), "tc-stale-"));
  try {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const deadPid = Number(dead.stdout); // exited: no live process has this pid (barring reuse)
    const old = (Date.now() - STALE_AFTER_MS - 60_000) / 1000;
    const make = (name: string, isDir = false) => {
      const p = join(dir, name);
      if (isDir) { mkdirSync(p); writeFileSync(join(p, "tc_runtime.h.gch"), "x"); } else writeFileSync(p, "x");
      utimesSync(p, old, old);
    };
    make(`abc.so.tmp-${deadPid}-0123abcd`);
    make(`abc.so.tmp-${deadPid}-0123abce.cpp`);
    make(`pch-ff.tmp-${deadPid}-deadbeef`, true); // a half-built PCH folder
    make(`abc.so.tmp-${process.pid}-0123abcd`); // ours: a build of this process
    make(`abc.so.tmp-${process.ppid}-0123abcd`); // a live process
    make("notes.txt");
    make(`mine.tmp-${deadPid}-xyz`); // not a name the cache makes
    make("abc.so");
    writeFileSync(join(dir, `young.so.tmp-${deadPid}-00000000`), "x"); // just written: may be another machine's build
    const removed = cleanStaleTemporaries(dir).sort();
    assert.equal(removed, [`abc.so.tmp-${deadPid}-0123abcd`, `abc.so.tmp-${deadPid}-0123abce.cpp`, `pch-ff.tmp-${deadPid}-deadbeef`]);
    assert.equal(readdirSync(dir).sort(), [`abc.so`, `abc.so.tmp-${process.pid}-0123abcd`, `abc.so.tmp-${process.ppid}-0123abcd`, `mine.tmp-${deadPid}-xyz`, "notes.txt", `young.so.tmp-${deadPid}-00000000`].sort());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an aborted build rejects with Interrupted, kills the compiler and leaves no temporaries", async () => {
  const { code } = freshUnit();
  const ac = new AbortController();
  const t0 = Date.now();
  // abort once g++ is running (a fixed delay loses the race on a quick machine: a small unit over
  // the precompiled header builds in a few hundred milliseconds)
  const compilerRunning = () => spawnSync("pgrep", ["-f", "-P", String(process.pid), "g\\+\\+|c\\+\\+|cc1plus"], { encoding: "utf8" }).stdout.trim() !== "";
  const poll = setInterval(() => { if (compilerRunning()) { clearInterval(poll); ac.abort(); } }, 5);
  await buildSharedObject(code, [], undefined, ac.signal).finally(() => clearInterval(poll)).then(
    () => assert.unreachable("the build finished before the abort"),
    (e) => assert.ok(e instanceof Interrupted, String(e)),
  );
  assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
  const mine = readdirSync(cacheDir()).filter((n) => n.includes(`.tmp-${process.pid}-`));
  assert.equal(mine, []);
  const kids = spawnSync("pgrep", ["-P", String(process.pid)], { encoding: "utf8" }).stdout.trim().split("\n").filter(Boolean);
  const compilers = kids.filter((pid) => existsSync(`/proc/${pid}/cmdline`) && /g\+\+|cc1plus|c\+\+/.test(readFileSync(`/proc/${pid}/cmdline`, "utf8")));
  assert.equal(compilers, []);
});

test("one caller's interrupt ends its own wait for a shared runtime build, not the build another caller needs", async () => {
  // a stand-in compiler that takes a second per step, so that the interrupt lands during the build
  const dir = mkdtempSync(join(tmpdir(), "tc-shared-build-"));
  const fake = join(dir, "slow-cxx");
  writeFileSync(fake, [
    "#!/bin/sh",
    'for a in "$@"; do [ "$a" = --version ] && exec g++ --version; done',
    'out=""; prev=""',
    'for a in "$@"; do [ "$prev" = -o ] && out="$a"; prev="$a"; done',
    "sleep 1",
    'echo built > "$out"',
    "",
  ].join("\n"), { mode: 0o755 });
  const saved = { cxx: process.env.TENSORCORE_CXX, cache: process.env.TENSORCORE_CACHE };
  process.env.TENSORCORE_CXX = fake;
  process.env.TENSORCORE_CACHE = join(dir, "cache");
  const interrupted = (e: unknown) => assert.ok(e instanceof Interrupted, String(e));
  const slowCompilers = () => spawnSync("pgrep", ["-f", fake], { encoding: "utf8" }).stdout.trim();
  try {
    const ac = new AbortController();
    const first = buildSharedObject("// unit a\n", [], undefined, ac.signal);
    const second = buildSharedObject("// unit b\n", []); // the same flags: it waits for the same runtime build
    setTimeout(() => ac.abort(), 300);
    const t0 = Date.now();
    await first.then(() => assert.unreachable("the first caller was interrupted"), interrupted);
    assert.ok(Date.now() - t0 < 900, `the interrupted caller waited ${Date.now() - t0} ms`);
    const r = await second;
    assert.ok(!r.cached && readFileSync(r.so, "utf8") === "built\n", "the other caller's build completed");
    // alone, an interrupted caller stops the build: its compiler is killed and nothing is half-written
    const lone = new AbortController();
    const third = buildSharedObject("// unit c\n", ["-DTC_OTHER_FLAG_SET"], undefined, lone.signal);
    setTimeout(() => lone.abort(), 300);
    await third.then(() => assert.unreachable("the lone caller was interrupted"), interrupted);
    await new Promise((res) => setTimeout(res, 200));
    assert.is(slowCompilers(), "", "no compiler left running");
    assert.equal(readdirSync(join(dir, "cache", "eigen")).filter((n) => n.includes(".tmp-")), [], "no temporaries");
  } finally {
    for (const [k, v] of [["TENSORCORE_CXX", saved.cxx], ["TENSORCORE_CACHE", saved.cache]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
