import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** One built file of the storefront's client, with the ETag browsers revalidate it by. */
export type Asset = { body: Uint8Array; contentType: string; etag: string };

const ENTRY = fileURLToPath(new URL("./client/main.ts", import.meta.url));

let building: Promise<Map<string, Asset>> | undefined;

/**
 * The storefront's script and stylesheet, by file name (`app.js`, `app.css`), built from
 * src/storefront/client with esbuild on first use and kept in memory for the life of the
 * process: nothing built is committed, and processes that never serve a page never pay for it.
 * A failed build is not cached, so the next request tries again.
 */
export function storefrontAssets(): Promise<Map<string, Asset>> {
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
    outdir: "storefront",
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome100", "firefox100", "safari15"],
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
