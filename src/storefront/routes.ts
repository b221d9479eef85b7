import type { IncomingMessage, ServerResponse } from "node:http";
import type { Deps } from "../deps.ts";
import { requestIdOf } from "../observability/http.ts";
import { BUNDLED_PAGE_HEADERS, serveAsset } from "../http/browser-bundle.ts";
import { storefrontAssets } from "./bundle.ts";
import { storefrontPage, storeNotFoundPage } from "./page.ts";
import { isStoreSlug } from "../validation.ts";

// What every bundled page is held to; links to the store's own pages keep the referrer.
const PAGE_HEADERS = { ...BUNDLED_PAGE_HEADERS, "referrer-policy": "same-origin" };

const STORE_PAGE = /^\/store\/([^/?#]+)\/?$/;
const ASSET = /^\/storefront\/(app\.(?:js|css))$/;

/**
 * The public storefront: GET /store/<slug> (the page, or a 404 page for an unknown store) and
 * GET /storefront/app.js|app.css (its client, built on first use). Answers and returns true for
 * those paths; returns false for anything else.
 */
export function handleStorefront(deps: Deps, req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const path = (req.url ?? "/").split("?", 1)[0]!;
  const page = STORE_PAGE.exec(path);
  const asset = page ? null : ASSET.exec(path);
  if (!page && !asset) return false;
  const answer = page ? servePage(deps, res, page[1]!) : serveAsset(req, res, storefrontAssets, asset![1]!);
  answer.catch((error: unknown) => {
    deps.logger.error({ err: error, reqId: requestIdOf(req), path }, "storefront request failed");
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end("Error interno");
  });
  return true;
}

async function servePage(deps: Deps, res: ServerResponse, rawSlug: string) {
  const slug = safeDecode(rawSlug).trim().toLowerCase();
  // a slug that breaks the slug rule (a NUL byte, say) names no store: no query, no database error
  const store = isStoreSlug(slug)
    ? await deps.db.prisma.store.findUnique({ where: { slug }, select: { slug: true, name: true } })
    : null;
  if (!store) {
    res.writeHead(404, PAGE_HEADERS).end(storeNotFoundPage(slug));
    return;
  }
  res.writeHead(200, PAGE_HEADERS).end(storefrontPage(store));
}


function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
