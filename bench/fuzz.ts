// The long fuzz run: node dist/bench/fuzz.js [--seconds 600] [--seed N] [--eigen-sample N] [--all-folder-classes]
// Splits the time over programs (front end + interpreter, a sample on the compiled back end too),
// model folders (each case a child process) and kernel frames; prints cases tried per class and
// every failure, and exits 1 if there was one. docs/security.md ("Fuzzing") quotes its figures.
// (--load-folder DIR is the child side of a folder case.)

import { FOLDER_CLASSES_HOLDING, FOLDER_MUTATIONS, formatCounts, fuzzFolders, fuzzFrames, fuzzPrograms, loadFolderChild } from "../tests/fuzz/harness.js";

const argv = process.argv.slice(2);
const arg = (name: string, dflt: number) => { const i = argv.indexOf(name); return i >= 0 ? Number(argv[i + 1]) : dflt; };

if (argv[0] === "--load-folder") {
  await loadFolderChild(argv[1]);
} else {
  const seconds = arg("--seconds", 600), seed = arg("--seed", 0x7e45c0de);
  const all = argv.includes("--all-folder-classes");
  const t0 = Date.now();
  const programs = await fuzzPrograms({ seed, ms: seconds * 500, eigenSample: arg("--eigen-sample", Math.max(2, Math.round(seconds / 20))) });
  console.log(`programs: ${formatCounts(programs.counts)}; failures ${programs.failures.length}`);
  const folders = fuzzFolders({ seed, cases: Infinity, ms: seconds * 350, classes: all ? () => true : undefined });
  console.log(`model folders (${all ? "all classes" : `${FOLDER_CLASSES_HOLDING.size} of ${FOLDER_MUTATIONS.length} classes`}): ${formatCounts(folders.counts)}; failures ${folders.failures.length}`);
  const frames = await fuzzFrames({ seed, ms: Math.max(1000, seconds * 1000 - (Date.now() - t0)) });
  console.log(`kernel frames: ${formatCounts(frames.counts)}; failures ${frames.failures.length}`);
  const failures = [...programs.failures, ...folders.failures, ...frames.failures];
  for (const f of failures.slice(0, 20)) console.log(`\n--- ${f.what}\n${f.input.slice(0, 600)}\n${f.error.slice(0, 1200)}`);
  console.log(`\n${failures.length} failures in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  process.exit(failures.length ? 1 : 0);
}
