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
import { DiagnosticError, Interrupted } from "../compiler/diagnostics.js";
import { buildSharedObject, cacheDir, cleanStaleTemporaries, STALE_AFTER_MS, toolchain, verifiedObject } from "../compiler/eigen/build.js";
import { cacheEntries, cacheLimitBytes, pruneCache } from "../compiler/eigen/cache-limit.js";
import { emitCpp } from "../compiler/eigen/emit-cpp.js";

/** A translation unit no cache holds yet (a fresh constant). */
function freshUnit(): { code: string; src: string } {
  const src = `type V = Tensor<f32, {4}>;\nkernel k(V x) { x = x * 2 + ${Math.random().toFixed(12)}; }\n`;
  const { program } = checkSource("c.ta", src);
  return { code: emitCpp(program.kernels).code, src };
}
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

test("the cache key holds what -march=native means here: this CPU's ISA as /proc/cpuinfo lists it", () => {
  // objects built on one CPU are never loaded on another through a shared cache folder (SIGILL)
  const native = toolchain().native;
  const flags = new Set((readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1] ?? "").trim().split(/\s+/));
  for (const [flag, macro] of [["avx2", "__AVX2__"], ["avx512f", "__AVX512F__"], ["fma", "__FMA__"], ["f16c", "__F16C__"]])
    assert.is(native.includes(`#define ${macro} `), flags.has(flag), `${flag} in /proc/cpuinfo vs ${macro} in -march=native`);
});

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

test("the compile cache is pruned least recently used first, to its limit; recent, kept and foreign files stay", () => {
  const dir = mkdtempSync(join(tmpdir(), "tc-prune-"));
  try {
    const hex = (c: string) => c.repeat(32);
    const MB = 2 ** 20, now = Date.now(), hour = 3600_000;
    const at = (p: string, ms: number) => utimesSync(p, ms / 1000, ms / 1000);
    /** A program object of `mb` MB last used `ago` ms ago (its record's mtime; the object is older). */
    const program = (c: string, mb: number, ago: number) => {
      writeFileSync(join(dir, `${hex(c)}.so`), Buffer.alloc(mb * MB));
      writeFileSync(join(dir, `${hex(c)}.cpp`), "// c++");
      writeFileSync(join(dir, `${hex(c)}.so.sum`), "{}");
      at(join(dir, `${hex(c)}.so`), now - 10 * hour);
      at(join(dir, `${hex(c)}.so.sum`), now - ago);
    };
    program("a", 3, 5 * hour); // oldest use
    program("b", 3, 1 * hour);
    program("c", 3, 3 * hour);
    program("d", 3, 60_000); // used a minute ago: may be loading elsewhere
    program("e", 3, 9 * hour); // the oldest, but the caller's own
    // a runtime set: the PCH folder and the runtime object, used 4 hours ago
    mkdirSync(join(dir, `pch-${hex("f")}`));
    writeFileSync(join(dir, `pch-${hex("f")}`, "tc_runtime.h.gch"), Buffer.alloc(4 * MB));
    writeFileSync(join(dir, `rt-${hex("f")}.o`), Buffer.alloc(MB));
    writeFileSync(join(dir, `rt-${hex("f")}.o.sum`), "{}");
    at(join(dir, `rt-${hex("f")}.o.sum`), now - 4 * hour);
    // not the cache's names: never counted, never removed, however old or large
    writeFileSync(join(dir, "notes.txt"), Buffer.alloc(8 * MB));
    writeFileSync(join(dir, `${hex("g")}.so.bak`), "x");
    at(join(dir, "notes.txt"), now - 100 * hour);

    const entries = cacheEntries(dir);
    assert.equal(entries.map((e) => e.key).sort(), ["program:" + hex("a"), "program:" + hex("b"), "program:" + hex("c"), "program:" + hex("d"), "program:" + hex("e"), "runtime:" + hex("f")].sort());
    assert.ok(Math.abs(entries.find((e) => e.key === "program:" + hex("a"))!.usedMs - (now - 5 * hour)) < 2000, "use time is the record's");

    // 20 MB of entries (and their small .cpp and .sum files), limit 9 MB: e (kept) and d (recent) stay; then the least recently used go
    // (a at 5 h, the runtime set at 4 h, c at 3 h) until 9 MB remain: b (1 h) stays
    const r = pruneCache(dir, 9 * MB + 100, new Set([hex("e")]), now);
    assert.equal(r.removed.map((e) => e.key), ["program:" + hex("a"), "runtime:" + hex("f"), "program:" + hex("c")]);
    assert.is(r.keptBytes, 9 * MB + 3 * (6 + 2));
    assert.equal(readdirSync(dir).sort(), [`${hex("b")}.cpp`, `${hex("b")}.so`, `${hex("b")}.so.sum`, `${hex("d")}.cpp`, `${hex("d")}.so`, `${hex("d")}.so.sum`,
      `${hex("e")}.cpp`, `${hex("e")}.so`, `${hex("e")}.so.sum`, `${hex("g")}.so.bak`, "notes.txt"].sort());
    // under the limit: nothing more goes
    assert.equal(pruneCache(dir, 9 * MB + 100, new Set(), now).removed, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the compile cache's limit: TENSORCORE_EIGEN_CACHE_MB when a positive number, 2048 MB when unset, else one message", () => {
  assert.is(cacheLimitBytes(undefined), 2048 * 2 ** 20);
  assert.is(cacheLimitBytes(""), 2048 * 2 ** 20);
  assert.is(cacheLimitBytes("512"), 512 * 2 ** 20);
  assert.is(cacheLimitBytes("1e3"), 1000 * 2 ** 20);
  for (const bad of ["0", "-5", "lots", "Infinity", "NaN"]) {
    assert.throws(() => cacheLimitBytes(bad), (e: Error) => e instanceof DiagnosticError && e.message.includes(`TENSORCORE_EIGEN_CACHE_MB is '${bad}': expected the compile cache's limit in MB, a positive number`), bad);
  }
});

test("a directory where a cached program belongs is moved aside and the program built; a cache path that is a file gets one message", async () => {
  const { code } = freshUnit();
  const a = await buildSharedObject(code, []);
  rmSync(a.so, { force: true });
  mkdirSync(a.so);
  writeFileSync(join(a.so, "inner"), "x");
  const b = await buildSharedObject(code, []);
  assert.is(b.cached, false);
  assert.ok(statSync(b.so).isFile() && verifiedObject(b.so));
  assert.equal(readdirSync(cacheDir()).filter((n) => n.startsWith(`${a.so.split("/").pop()}.tmp-`)), [], "no temporaries left");
  const saved = process.env.TENSORCORE_CACHE;
  const file = join(mkdtempSync(join(tmpdir(), "tc-cachefile-")), "cache");
  writeFileSync(file, "not a folder");
  process.env.TENSORCORE_CACHE = file;
  try {
    assert.throws(() => cacheDir(), (e: Error) => e instanceof DiagnosticError && /the compile cache .*cache\/eigen cannot be used \(a file is in the way\): set TENSORCORE_CACHE/.test(e.message));
  } finally {
    if (saved === undefined) delete process.env.TENSORCORE_CACHE; else process.env.TENSORCORE_CACHE = saved;
  }
});

test("a cache hit marks its entry used (its record's mtime), so pruning keeps what is in use", async () => {
  const { code } = freshUnit();
  const a = await buildSharedObject(code, []);
  const old = (Date.now() - 5 * 3600_000) / 1000;
  utimesSync(`${a.so}.sum`, old, old);
  const b = await buildSharedObject(code, []);
  assert.is(b.cached, true);
  assert.ok(Date.now() - statSync(`${a.so}.sum`).mtimeMs < 60_000, "the record was not touched");
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
