import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "../logger.ts";
import { errorsTotal, httpRequestDuration, httpRequestsTotal, recordBuildInfo, registry } from "./metrics.ts";

type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

const REQUEST_ID_HEADER = "x-request-id";
// A caller's id is echoed into logs and headers: only short, plain ones are kept.
const ACCEPTABLE_REQUEST_ID = /^[\w.:@-]{1,128}$/;
const requestIds = new WeakMap<IncomingMessage, string>();

/** The id of a request being answered: the caller's `x-request-id` when acceptable, else a new one. */
export function requestIdOf(req: IncomingMessage): string {
  let id = requestIds.get(req);
  if (!id) {
    const given = req.headers[REQUEST_ID_HEADER];
    id = typeof given === "string" && ACCEPTABLE_REQUEST_ID.test(given) ? given : randomUUID();
    requestIds.set(req, id);
  }
  return id;
}

/**
 * Wraps the server's request handler: gives every request an id (echoed in `x-request-id`, so a
 * caller or the load balancer can quote it), and once the answer is sent writes one log line
 * (method, path, status, duration) and counts it for /metrics.
 */
export function observeRequests(logger: Logger, handle: Handler): Handler {
  return (req, res) => {
    const started = process.hrtime.bigint();
    const reqId = requestIdOf(req);
    res.setHeader(REQUEST_ID_HEADER, reqId);
    res.once("close", () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const path = pathOf(req);
      const route = routeOf(path);
      // A response closed before it finished was cut off (client gone, or the server stopping).
      const status = res.writableFinished ? res.statusCode : 499;
      httpRequestsTotal.inc({ method: req.method ?? "", route, status: String(status) });
      httpRequestDuration.observe({ route }, seconds);
      if (status >= 500) errorsTotal.inc({ kind: "http", code: String(status) });
      const line = { reqId, method: req.method, path, status, durationMs: Math.round(seconds * 10_000) / 10 };
      if (status >= 500) logger.error(line, "request failed");
      else logger.info(line, "request");
    });
    return handle(req, res);
  };
}

/**
 * The path without the query string: query strings may carry what does not belong in logs; nor
 * does the secret of an accounting webhook URL, which authenticates notifications (its store stays).
 */
function pathOf(req: IncomingMessage) {
  const url = req.url ?? "/";
  const end = url.indexOf("?");
  const path = end < 0 ? url : url.slice(0, end);
  return path.startsWith("/webhooks/accounting/") ? path.replace(/^(\/webhooks\/accounting\/(whk_[0-9a-f]{32}_)?).*$/, "$1[secret]") : path;
}

/** A bounded set of route names for metric labels (a label per store slug would grow without end). */
function routeOf(path: string) {
  if (path === "/graphql" || path === "/health" || path === "/metrics") return path;
  if (path.startsWith("/store/")) return "/store/:slug";
  if (path.startsWith("/storefront/")) return "/storefront/*";
  if (path === "/admin" || path.startsWith("/admin/")) return "/admin/*";
  if (path.startsWith("/webhooks/accounting/")) return "/webhooks/accounting/:secret";
  return "other";
}

/**
 * GET /metrics: the process's counters in Prometheus' text format. The build info's migration is
 * read at each scrape, waiting a second at most: a database that does not answer leaves the
 * last one read and must not cost the scrape the other metrics, which matter most then.
 */
export async function serveMetrics(res: ServerResponse, lastMigration: () => Promise<string | null>) {
  const waited = new AbortController();
  const migration = await Promise.race([
    lastMigration().catch(() => undefined),
    sleep(1_000, undefined, { signal: waited.signal }).catch(() => undefined),
  ]);
  waited.abort();
  if (migration !== undefined) recordBuildInfo(migration);
  const body = await registry.metrics();
  res.writeHead(200, { "content-type": registry.contentType }).end(body);
}

/** A yoga plugin counting the GraphQL errors of every HTTP answer by code (masked bugs included). */
export function useGraphQLErrorMetrics(): Plugin {
  return {
    onResultProcess({ result }) {
      const results = Array.isArray(result) ? result : [result];
      for (const single of results) {
        if (!single || Symbol.asyncIterator in single) continue;
        for (const error of single.errors ?? []) {
          errorsTotal.inc({ kind: "graphql", code: String(error.extensions?.code ?? "UNKNOWN") });
        }
      }
    },
  };
}
