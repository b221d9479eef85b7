import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { build, type BuildOptions } from "esbuild";

/** One built file of a browser client, with the ETag browsers revalidate it by. */
export type Asset = { body: Uint8Array; contentType: string; etag: string };

/**
 * A browser client's script and stylesheet, by file name (`app.js`, `app.css`), built from its
 * `entry` with esbuild on first use and kept in memory for the life of the process: nothing built
 * is committed, and processes that never serve the page never pay for it. A failed build is not
 * kept, so the next request tries again. For the storefront and the console.
 */
export function browserBundle(entry: string, options: Pick<BuildOptions, "jsx" | "jsxImportSource" | "define"> = {}) {
  let building: Promise<Map<string, Asset>> | undefined;
  return (): Promise<Map<string, Asset>> =>
    (building ??= bundle(entry, options).catch((error: unknown) => {
      building = undefined;
      throw error;
    }));
}

async function bundle(entry: string, options: Pick<BuildOptions, "jsx" | "jsxImportSource" | "define">): Promise<Map<string, Asset>> {
  const result = await build({
    entryPoints: { app: entry },
    bundle: true,
    write: false,
    outdir: "client",
    format: "esm",
    platform: "browser",
    target: ["es2022", "chrome100", "firefox100", "safari15"],
    minify: true,
    charset: "utf8",
    legalComments: "none",
    logLevel: "silent",
    ...options,
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

/** Answers GET of one asset of `assets`: 404 for a name it lacks, 304 while the browser's copy is current. */
export async function serveAsset(req: IncomingMessage, res: ServerResponse, assets: () => Promise<Map<string, Asset>>, name: string) {
  const asset = (await assets()).get(name);
  if (!asset) {
    res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not found");
    return;
  }
  const headers = { etag: asset.etag, "cache-control": "no-cache", "x-content-type-options": "nosniff" };
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, "content-type": asset.contentType }).end(asset.body);
}

/**
 * The headers of a page whose client is one of these bundles: it runs only its own script, talks
 * only to its own origin (HTTP and WebSocket), submits no form anywhere and is never framed, so
 * that even text that slipped past escaping could not load or send anything. Each page adds its
 * referrer policy (and the console, an X-Frame-Options for older browsers).
 */
export const BUNDLED_PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
};
