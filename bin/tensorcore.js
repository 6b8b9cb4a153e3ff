#!/usr/bin/env node
// Thin launcher: the CLI is TypeScript compiled to dist/ by `npm run setup`.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
const root = dirname(dirname(fileURLToPath(import.meta.url)));
const entry = join(root, "dist", "cli", "tensorcore.js");
if (!existsSync(entry)) {
  console.error("tensorcore: not built yet; run `npm run setup` in " + root);
  process.exit(1);
}
await import(pathToFileURL(entry).href);
