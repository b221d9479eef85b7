import { readFileSync } from "node:fs";

/** What this process runs, as GET /health and the store_inventory_build_info metric report it. */
export type BuildInfo = {
  /** package.json's version */
  version: string;
  /** GIT_COMMIT when set, else the commit `npm run build` was made from; null when unknown (e.g. run from src) */
  commit: string | null;
};

// package.json sits two levels up from both src/observability/ and dist/observability/.
const PACKAGE_JSON = new URL("../../package.json", import.meta.url);
// written by scripts/build.mjs into dist/ only
const BUILT_INFO = new URL("../build-info.json", import.meta.url);

export function readBuildInfo(env: NodeJS.ProcessEnv = process.env): BuildInfo {
  const { version } = JSON.parse(readFileSync(PACKAGE_JSON, "utf8")) as { version: string };
  return { version, commit: env.GIT_COMMIT || builtCommit() };
}

function builtCommit(): string | null {
  try {
    return (JSON.parse(readFileSync(BUILT_INFO, "utf8")) as { commit: string | null }).commit ?? null;
  } catch {
    return null;
  }
}

export const buildInfo: BuildInfo = readBuildInfo();
