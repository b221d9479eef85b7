import type { IncomingMessage, ServerResponse } from "node:http";
import type { Deps } from "../deps.ts";
import { requestIdOf } from "../observability/http.ts";
import { BUNDLED_PAGE_HEADERS, serveAsset } from "../http/browser-bundle.ts";
import { adminAssets } from "./bundle.ts";
import { INVENTORY_CSV_PATH, serveInventoryCsv } from "./inventory-csv.ts";

// The console handles an admin token: besides what every bundled page is held to, it is never
// framed even by older browsers, and no page it links to learns where it came from.
const PAGE_HEADERS = { ...BUNDLED_PAGE_HEADERS, "x-frame-options": "DENY", "referrer-policy": "no-referrer" };

const PAGE = `<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Consola de la tienda</title>
<link rel="stylesheet" href="/admin/app.css">
<link rel="icon" href="data:,">
</head>
<body>
<div id="admin"><noscript>La consola necesita JavaScript.</noscript></div>
<script type="module" src="/admin/app.js"></script>
</body>
</html>
`;

const ASSET = /^\/admin\/(app\.(?:js|css))$/;

/**
 * The merchant's console: GET /admin (one page; its screens are in the URL's fragment) and
 * GET /admin/app.js|app.css (its client, built on first use), and GET /admin/inventory.csv (the
 * inventory as a spreadsheet, with the admin token). Answers and returns true for those
 * paths; returns false for anything else.
 */
export function handleAdmin(deps: Deps, req: IncomingMessage, res: ServerResponse): boolean {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const path = (req.url ?? "/").split("?", 1)[0]!;
  if (path === "/admin" || path === "/admin/") {
    res.writeHead(200, PAGE_HEADERS).end(PAGE);
    return true;
  }
  if (path === INVENTORY_CSV_PATH) {
    serveInventoryCsv(deps, req, res).catch((error: unknown) => {
      deps.logger.error({ err: error, reqId: requestIdOf(req), path }, "inventory export failed");
      if (res.headersSent) return void res.destroy();
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" }).end("Error interno");
    });
    return true;
  }
  const asset = ASSET.exec(path);
  if (!asset) return false;
  serveAsset(req, res, adminAssets, asset[1]!).catch((error: unknown) => {
    deps.logger.error({ err: error, reqId: requestIdOf(req), path }, "admin console asset failed");
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
    res.end("Error interno");
  });
  return true;
}

