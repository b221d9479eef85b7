// `npm run build`: the service as plain JavaScript in dist/, what the production image runs
// (`node dist/main.js`, `node dist/cli/seed-demo.js`). One output file per source file, so dist/
// mirrors src/ at the same depth and every path the code finds from its own location still holds
// (../../prisma/migrations, ../../package.json). esbuild only strips types; `npm run typecheck`
// is what checks them.
import { execFileSync } from "node:child_process";
import { cp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { build } from "esbuild";

const root = new URL("..", import.meta.url).pathname;
const SRC = join(root, "src");
const OUT = join(root, "dist");
// The storefront's and the console's browser code is bundled by the server itself on first use
// (src/storefront/bundle.ts, src/admin/bundle.ts), so it ships as its sources, next to the file that bundles it.
const BROWSER_CODE = [join(SRC, "storefront", "client"), join(SRC, "admin", "client")];

async function sourceFiles(dir) {
  const files = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!BROWSER_CODE.includes(path)) files.push(...(await sourceFiles(path)));
    } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
      files.push(path);
    }
  }
  return files;
}

// Every import between our own files stays an import, of the .js file the .ts one becomes.
const ownImportsAsJs = {
  name: "own-imports-as-js",
  setup(pluginBuild) {
    pluginBuild.onResolve({ filter: /^\.\.?\// }, (args) =>
      args.kind === "entry-point" ? undefined : { path: args.path.replace(/\.ts$/, ".js"), external: true },
    );
  },
};

/** The commit being built: GIT_COMMIT (a container build has no .git), else the checkout's HEAD. */
function commitBuilt() {
  if (process.env.GIT_COMMIT) return process.env.GIT_COMMIT;
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, stdio: ["ignore", "pipe", "ignore"] }).toString().trim();
  } catch {
    return null;
  }
}

const started = Date.now();
await rm(OUT, { recursive: true, force: true });
const entryPoints = await sourceFiles(SRC);
await build({
  entryPoints,
  outdir: OUT,
  outbase: SRC,
  bundle: true,
  packages: "external",
  plugins: [ownImportsAsJs],
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
});
for (const dir of BROWSER_CODE) await cp(dir, join(OUT, relative(SRC, dir)), { recursive: true });
await mkdir(OUT, { recursive: true });
// read by src/observability/build-info.ts: what /health and /metrics report as the commit
await writeFile(join(OUT, "build-info.json"), JSON.stringify({ commit: commitBuilt(), builtAt: new Date().toISOString() }) + "\n");
console.log(`built ${entryPoints.length} files into dist/ in ${Date.now() - started} ms`);
