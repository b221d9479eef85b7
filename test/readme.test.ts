import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";

/** Every file of the repository that a reader could be pointed at, by path and by name. */
function repositoryFiles(dir = ".", found: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (["node_modules", ".git", ".data", "dist", "test-results", "generated"].includes(entry)) continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) repositoryFiles(path, found);
    else found.push(path);
  }
  return found;
}

const FILE = /^[\w./-]+\.(ts|tsx|sql|md|mjs|cjs|json|ya?ml|ini|css)$/;
const MIGRATION = /^\d{14}_\w+$/;

describe("the README and the docs", () => {
  const files = repositoryFiles();
  // the files of the project's shared folder beside the repository (the floors, the contract checker) count too
  const shared = existsSync("../shared") ? repositoryFiles("../shared") : [];
  const names = new Set([...files, ...shared].map((file) => basename(file)));
  const docs = ["README.md", "bench/README.md", ...files.filter((file) => file.startsWith("docs/") && file.endsWith(".md"))];
  const migrations = new Set(readdirSync("prisma/migrations"));

  it.for(docs)("%s names only files and migrations that exist", (doc) => {
    const named = [...readFileSync(doc, "utf8").matchAll(/`([^`\s]+)`/g)].map((match) => match[1]!.replace(/[:,]$/, ""));
    const missing = named.filter((name) => {
      if (MIGRATION.test(name)) return !migrations.has(name);
      if (!FILE.test(name) || name.startsWith("../") || name.includes("<")) return false;
      return name.includes("/") ? !existsSync(name) && !existsSync(join("src", name)) : !names.has(name);
    });
    expect(missing).toEqual([]);
  });
});
