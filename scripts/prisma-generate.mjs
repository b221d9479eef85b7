// Runs `prisma generate` after install. Generation needs no database and no schema engine, but
// the Prisma CLI insists on locating one; where none was downloaded (offline machines, installs
// that skip dependency scripts) any existing file satisfies that check.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const env = { ...process.env };
if (!env.PRISMA_SCHEMA_ENGINE_BINARY || !existsSync(env.PRISMA_SCHEMA_ENGINE_BINARY)) {
  env.PRISMA_SCHEMA_ENGINE_BINARY = process.execPath;
}
execFileSync(process.execPath, ["node_modules/prisma/build/index.js", "generate"], { stdio: "inherit", env });
