import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { isIP } from "node:net";
import { getOperationAST, GraphQLError } from "graphql";
import { createYoga } from "graphql-yoga";
import { WebSocketServer } from "ws";
import { useServer } from "graphql-ws/use/ws";
import { createAccountingWebhooks, WEBHOOK_PATH, type AccountingWebhooks } from "./accounting/webhook-endpoint.ts";
import { defaultConfig, type Config } from "./config.ts";
import type { Deps } from "./deps.ts";
import { createContext } from "./graphql/context.ts";
import { requestLimitPlugins } from "./graphql/limits.ts";
import { authorizeMutationSelections } from "./graphql/selection-auth.ts";
import { maskedErrors } from "./graphql/masked-errors.ts";
import { useDocumentCache } from "./graphql/document-cache.ts";
import { schema } from "./graphql/schema.ts";
import { useSharedSubscriptionResults } from "./graphql/shared-subscription-results.ts";
import { graphiqlExamples } from "./graphql/graphiql-examples.ts";
import { observeRequests, serveMetrics, useGraphQLErrorMetrics } from "./observability/http.ts";
import { buildInfo } from "./observability/build-info.ts";
import { lastAppliedMigration } from "./db/migrate.ts";
import { handleStorefront } from "./storefront/routes.ts";
import { handleAdmin } from "./admin/routes.ts";
import { withinBodyLimit } from "./http/body-limit.ts";
import { LoadShedder } from "./http/load-shedding.ts";
import { clientAddressOf } from "./http/client-address.ts";
import { SocketCounts, socketSlots, TOO_MANY_SOCKETS_CLOSE_CODE, tooManySubscriptions } from "./http/socket-limits.ts";
import { storefrontTokenFor } from "./stores/storefront-tokens.ts";

export type App = { server: Server; accountingWebhooks: AccountingWebhooks; loadShedder: LoadShedder; close(): Promise<void> };

/**
 * The whole service on one port: GraphQL over HTTP and WebSocket (graphql-ws) at /graphql,
 * GET /health for load balancers, and POST /webhooks/accounting/<secret> for the accounting
 * system's notifications. Requests must arrive within the HTTP timeouts; sockets and their
 * subscriptions are held to the WebSocket limits (src/http/socket-limits.ts). Past its load bounds
 * the process refuses new requests and sockets 503, all but /health and /metrics
 * (src/http/load-shedding.ts).
 */
export function createApp(
  deps: Deps,
  config: Pick<Config, "graphiql" | "introspection" | "webSocketKeepAliveMs" | "webSocketInitTimeoutMs"> &
    Partial<Pick<Config, "limits" | "csrfPrevention" | "trustProxy" | "storefrontTokenOrdersPerMinute" | "webSocketLimits" | "http" | "loadShedding">>,
): App {
  const { limits, csrfPrevention, trustProxy, storefrontTokenOrdersPerMinute, webSocketLimits, http, loadShedding } = { ...defaultConfig(), ...config };
  const shedder = new LoadShedder(loadShedding, { checkoutTurns: deps.checkoutTurns, pool: deps.db.pool, logger: deps.logger });
  const yoga = createYoga<{ req: IncomingMessage; res: ServerResponse }>({
    schema,
    graphqlEndpoint: "/graphql",
    graphiql: config.graphiql ? { title: "Store inventory", subscriptionsProtocol: "WS", ...graphiqlExamples } : false,
    // GraphiQL's scripts, styles and editor workers from the service itself, not from a CDN; the
    // 9 MB module is loaded on the first visit only
    renderGraphiQL: (options) => import("@graphql-yoga/render-graphiql").then(({ renderGraphiQL }) => renderGraphiQL(options)),
    landingPage: false,
    // handleGraphQL holds every body to limits.maxBodyBytes before yoga sees it; yoga's own limit
    // would pipe each body through a stream again (an AbortController and a DOMException per request)
    maxRequestBodySize: false,
    // no file uploads here
    multipart: false,
    // replaced by useDocumentCache (the last plugin): the same cache without a clock read per lookup
    parserAndValidationCache: false,
    plugins: [
      ...requestLimitPlugins({ limits, introspection: config.introspection, csrfPrevention }),
      useGraphQLErrorMetrics(),
      authorizeMutationSelections(),
      // StockUpdate's fields depend on the update alone: one execution per update serves every subscriber
      useSharedSubscriptionResults(new Set(["stockUpdates", "availabilityChanges"])),
      useDocumentCache(),
    ],
    maskedErrors,
    logging: {
      debug: (...args) => deps.logger.debug(args.map(String).join(" ")),
      info: (...args) => deps.logger.info(args.map(String).join(" ")),
      warn: (...args) => deps.logger.warn(args.map(String).join(" ")),
      error: (...args) => deps.logger.error({ err: args.find((a) => a instanceof Error) }, args.map(String).join(" ")),
    },
    // HTTP requests carry the token in a header; WebSocket clients in connectionParams or the upgrade request.
    context: (initial: any) =>
      createContext(
        deps,
        {
          authorization: initial.request?.headers.get("authorization") ?? authorizationOf(initial.connectionParams, initial.req),
          buyerAddress: initial.request?.headers.get("x-buyer-ip") ?? buyerAddressOf(initial.connectionParams, initial.req),
          clientAddress: clientAddressOf(initial.req, trustProxy),
        },
        { storefrontTokenOrdersPerMinute },
      ),
  });

  const accountingWebhooks = createAccountingWebhooks(deps);
  // One log line and the request metrics for every request, whichever handler answers it.
  const server = createServer(
    {
      // Node's defaults let a request's body trickle in for 300 s, holding its connection and buffer
      headersTimeout: http.headersTimeoutMs,
      requestTimeout: http.requestTimeoutMs,
      // how often those are checked: a request is cut at most this late
      connectionsCheckingInterval: Math.min(1_000, http.headersTimeoutMs / 2),
    },
    observeRequests(deps.logger, (req, res) => {
      if (req.url === "/health" && (req.method === "GET" || req.method === "HEAD")) return health(deps, res);
      if (req.url === "/metrics" && req.method === "GET") return serveMetrics(res, () => lastAppliedMigration(deps.db.pool));
      if (shedder.refuse(req, res)) return;
      if (handleStorefront(deps, req, res)) return;
      if (handleAdmin(deps, req, res)) return;
      if (req.url?.startsWith(WEBHOOK_PATH)) return accountingWebhooks.handle(req, res);
      return handleGraphQL(req, res);
    }),
  );
  server.keepAliveTimeout = http.keepAliveTimeoutMs;
  // the answers being worked on, for a stop to let them finish (see close)
  const answering = new Set<ServerResponse>();
  server.on("request", (_req: IncomingMessage, res: ServerResponse) => {
    answering.add(res);
    res.once("close", () => answering.delete(res));
  });

  /** GraphQL over HTTP: the body is read within its size limit before yoga parses anything. */
  async function handleGraphQL(req: IncomingMessage, res: ServerResponse) {
    if (await withinBodyLimit(req, res, limits.maxBodyBytes)) return yoga.handle(req, res);
  }

  // Sockets per client: an upgrade over its address' limit is answered 429; a socket whose
  // connection_init names a storefront token's shopper moves onto that shopper's and token's counts.
  const socketCounts = new SocketCounts();
  const slots = socketSlots(webSocketLimits);
  const sockets = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    maxPayload: limits.maxBodyBytes,
    // answered at once, so that nothing else upgrades between this check and the count below
    verifyClient: ({ req }, accept) => {
      const shed = shedder.refuseUpgrade();
      if (shed) return accept(false, 503, "Service Unavailable", shed);
      const full = socketCounts.full([slots.client(clientAddressOf(req, trustProxy))]);
      if (full) accept(false, 429, full.refusal);
      else accept(true);
    },
  });
  sockets.on("connection", (socket, req) => {
    const full = socketCounts.take(socket, [slots.client(clientAddressOf(req, trustProxy))]);
    if (full) socket.close(TOO_MANY_SOCKETS_CLOSE_CODE, full.refusal);
    socket.once("close", () => socketCounts.release(socket));
  });
  const wsServer = useServer(
    {
      connectionInitWaitTimeout: config.webSocketInitTimeoutMs,
      onConnect: async (ctx) => {
        const { socket, request } = ctx.extra;
        const presented = /^Bearer\s+(st_\S+)\s*$/i.exec(authorizationOf(ctx.connectionParams, request) ?? "")?.[1];
        const token = presented ? await storefrontTokenFor(deps.db.prisma, presented) : null;
        // gone while the token was looked up: its counts are already released
        if (socket.readyState !== socket.OPEN) return false;
        // anything but a valid storefront token leaves the socket counted on its address
        if (!token) return true;
        const buyer = buyerAddressOf(ctx.connectionParams, request)?.trim().toLowerCase();
        if (buyer && !isIP(buyer)) {
          socket.close(4400, "X-Buyer-IP must be the shopper's IPv4 or IPv6 address");
          return false;
        }
        const full = socketCounts.take(socket, slots.storefront(token.id, buyer || clientAddressOf(request, trustProxy)));
        if (!full) return true;
        // closed with its own code and reason; `false` keeps graphql-ws from acknowledging it
        socket.close(TOO_MANY_SOCKETS_CLOSE_CODE, full.refusal);
        return false;
      },
      execute: (args: any) => args.rootValue.execute(args),
      subscribe: (args: any) => args.rootValue.subscribe(args),
      onSubscribe: async (ctx, _id, params) => {
        // graphql-ws lists every operation of the socket in progress, this one included
        if (Object.keys(ctx.subscriptions).length > webSocketLimits.maxSubscriptionsPerSocket) {
          return [tooManySubscriptions(webSocketLimits.maxSubscriptionsPerSocket)];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
        });
        // a syntax error (or the token limit) is this operation's error, as over HTTP; thrown,
        // graphql-ws would close the socket with every other subscription on it
        let document;
        try {
          document = parse(params.query);
        } catch (error) {
          if (!(error instanceof GraphQLError)) throw error;
          (error.extensions as Record<string, unknown>).code ??= "GRAPHQL_PARSE_FAILED";
          return [error];
        }
        // an open socket's subscriptions are never shed, but a query or mutation over it is, as over HTTP
        const operation = getOperationAST(document, params.operationName);
        const shed = operation?.operation !== "subscription" && shedder.refuseOperation();
        if (shed) return [shed];
        const args = {
          schema,
          operationName: params.operationName,
          document,
          variableValues: params.variables,
          contextValue: await contextFactory(),
          // the socket and id let live updates be written to the socket directly (shared-subscription-results.ts)
          rootValue: { execute, subscribe, directDelivery: { socket: ctx.extra.socket, subscriptionId: _id } },
        };
        const errors = validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    sockets,
    // ping every socket; one that does not answer in time is terminated, closing its subscriptions
    config.webSocketKeepAliveMs,
  );

  return {
    server,
    accountingWebhooks,
    loadShedder: shedder,
    async close() {
      // New connections are refused from here on and idle keep-alive ones closed. The answers in
      // flight are finished, and close their connection after them so that no client holds the
      // stop; a subscription over HTTP (SSE) is an answer that never finishes by itself.
      const answered = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const res of answering) {
        if (!res.headersSent) res.setHeader("connection", "close");
        else if (String(res.getHeader("content-type")).startsWith("text/event-stream")) res.end();
      }
      // Every socket is told goodbye (1001); one that does not answer (a dead or stalled client)
      // would hold the shutdown for ws' 30 s close timeout, so it is cut after a second.
      const stragglers = setTimeout(() => sockets.clients.forEach((socket) => socket.terminate()), 1_000);
      shedder.close();
      await wsServer.dispose();
      clearTimeout(stragglers);
      await new Promise<void>((resolve) => sockets.close(() => resolve()));
      await answered;
      // what the answers and the notifications still running publish goes out before the bus closes
      await accountingWebhooks.close();
      await deps.stockEvents.close();
      await deps.orderRateLimiter?.close();
    },
  };
}

function authorizationOf(connectionParams: Record<string, unknown> | undefined, request: IncomingMessage | undefined) {
  const fromParams = connectionParams?.authorization ?? connectionParams?.Authorization;
  return typeof fromParams === "string" ? fromParams : request?.headers.authorization;
}

/** A WebSocket's X-Buyer-IP: in connectionParams (browsers cannot set upgrade headers) or the upgrade request. */
function buyerAddressOf(connectionParams: Record<string, unknown> | undefined, request: IncomingMessage | undefined) {
  const fromParams = connectionParams?.["x-buyer-ip"] ?? connectionParams?.["X-Buyer-IP"];
  if (typeof fromParams === "string") return fromParams;
  const header = request?.headers["x-buyer-ip"];
  return typeof header === "string" ? header : undefined;
}

/** 200 when the database answers, else 503; either way what this process runs and, when read, the last migration. */
async function health(deps: Deps, res: ServerResponse) {
  const { version, commit } = buildInfo;
  try {
    const migration = await lastAppliedMigration(deps.db.pool);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ status: "ok", version, commit, migration }));
  } catch {
    res
      .writeHead(503, { "content-type": "application/json" })
      .end(JSON.stringify({ status: "database unreachable", version, commit, migration: null }));
  }
}
