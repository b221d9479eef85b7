import type { IncomingMessage, ServerResponse } from "node:http";
import pLimit from "p-limit";
import type { Deps } from "../deps.ts";
import { requestIdOf } from "../observability/http.ts";
import { writeInventoryCsv } from "../stock/inventory-export.ts";
import { storeForAdminToken } from "../stores/stores.ts";

export const INVENTORY_CSV_PATH = "/admin/inventory.csv";

// Each export holds a pooled connection while it streams; two at a time per process leave the
// pool to the shop's other work, and a third merchant's download waits its turn.
const exportTurns = pLimit(2);

/**
 * GET /admin/inventory.csv ("Exportar"): the inventory of the store whose admin token comes in
 * `Authorization: Bearer`, one row per stock level, streamed. 401 without a valid admin token,
 * 403 with a storefront token; the token is never taken from the URL, which logs and histories keep.
 */
export async function serveInventoryCsv(deps: Deps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "")?.[1];
  if (token?.startsWith("st_")) return refuse(res, 403, "Un token de tienda online no da acceso a la consola.");
  const storeId = token ? await storeForAdminToken(deps.db.prisma, token) : null;
  if (!storeId) return refuse(res, 401, "Esta exportación necesita el token de administración de la tienda (Authorization: Bearer).");
  const store = await deps.db.prisma.store.findUnique({ where: { id: storeId }, select: { slug: true } });
  res.setHeader("content-type", "text/csv; charset=utf-8");
  res.setHeader("content-disposition", `attachment; filename="inventario-${store!.slug}-${new Date().toISOString().slice(0, 10)}.csv"`);
  res.setHeader("cache-control", "no-store");
  res.setHeader("x-content-type-options", "nosniff");
  if (req.method === "HEAD") return void res.end();
  await exportTurns(async () => {
    if (res.destroyed) return; // the merchant left while waiting
    try {
      await writeInventoryCsv(deps.db.pool, storeId, res);
    } catch (error) {
      if (res.headersSent || res.destroyed) {
        // part of the file is out: cutting the connection is how the browser learns it is incomplete
        if ((error as { code?: string }).code !== "ERR_STREAM_PREMATURE_CLOSE") {
          deps.logger.warn({ err: error, reqId: requestIdOf(req) }, "inventory export cut short");
        }
        res.destroy();
        return;
      }
      deps.logger.error({ err: error, reqId: requestIdOf(req) }, "inventory export failed");
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8" }).end("No se pudo exportar el inventario; intenta de nuevo.");
    }
  });
}

function refuse(res: ServerResponse, status: 401 | 403, message: string) {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...(status === 401 ? { "www-authenticate": "Bearer" } : {}) }).end(message);
}
