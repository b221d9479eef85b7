import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** One built file of the console's client, with the ETag browsers revalidate it by. */
export type Asset = { body: Uint8Array; contentType: string; etag: string };

const ENTRY = fileURLToPath(new URL("./client/main.tsx", import.meta.url));

let building: Promise<Map<string, Asset>> | undefined;

/**
 * The console's script and stylesheet (`app.js`, `app.css`), built from src/admin/client with
 * esbuild on first use and kept in memory, as the storefront's are (src/storefront/bundle.ts).
 * A failed build is not cached, so the next request tries again.
 */
export function adminAssets(): Promise<Map<string, Asset>> {
  building ??= bundleClient().catch((error: unknown) => {
    building = undefined;
    throw error;
  });
  return building;
}

async function bundleClient(): Promise<Map<string, Asset>> {
  const result = await build({
    entryPoints: { app: ENTRY },
    bundle: true,
    write: false,
    outdir: "admin",
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome100", "firefox100", "safari15"],
    jsx: "automatic",
    jsxImportSource: "preact",
    define: { "process.env.NODE_ENV": '"production"' },
    minify: true,
    charset: "utf8",
    legalComments: "none",
    logLevel: "silent",
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    const name = file.path.slice(file.path.lastIndexOf("/") + 1);
    assets.set(name, {
      body: file.contents,
      contentType: name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8",
      etag: `"${createHash("sha256").update(file.contents).digest("base64url").slice(0, 22)}"`,
    });
  }
  return assets;
}
