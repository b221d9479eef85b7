import { z } from "zod";
import { parseAllowedHost } from "./accounting/accounting-network.ts";
import { CHECKOUT_BATCH_MAX } from "./orders/checkout-turns.ts";
import { LOAD_SHEDDING_DEFAULTS, type LoadSheddingSettings } from "./http/load-shedding.ts";

/** Every setting the service reads, from the environment, checked once at start. */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default("0.0.0.0"),
  PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  // Either one Redis, or host:port seeds of a Redis Cluster, comma-separated. Empty is unset
  // (so that a compose override can switch from one to the other).
  REDIS_URL: z.string().optional(),
  REDIS_CLUSTER_NODES: z
    .string()
    .regex(/^$|^\s*[^\s:,]+:\d{1,5}\s*(,\s*[^\s:,]+:\d{1,5}\s*)*$/, "host:port seeds, comma-separated")
    .optional(),
  WS_KEEPALIVE_MS: z.coerce.number().int().min(1_000).max(300_000).default(20_000),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  WS_MAX_SUBSCRIPTIONS_PER_SOCKET: z.coerce.number().int().min(1).max(10_000).default(100),
  WS_MAX_SOCKETS_PER_CLIENT: z.coerce.number().int().min(1).max(100_000).default(50),
  WS_MAX_SOCKETS_PER_STOREFRONT_TOKEN: z.coerce.number().int().min(1).max(1_000_000).default(2_000),
  HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(300_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(65_000),
  DATA_DIR: z.string().default(".data"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.string().default("development"),
  GRAPHIQL: z.stringbool().optional(),
  INTROSPECTION: z.stringbool().optional(),
  GRAPHQL_MAX_DEPTH: z.coerce.number().int().min(1).default(10),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(15),
  GRAPHQL_MAX_TOKENS: z.coerce.number().int().min(10).default(2_000),
  GRAPHQL_MAX_COST: z.coerce.number().int().min(1).default(50_000),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(20),
  MAX_BODY_BYTES: z.coerce.number().int().min(1_024).default(102_400),
  CSRF_PREVENTION: z.stringbool().default(true),
  CHECKOUT_CONCURRENCY_PER_STORE: z.coerce.number().int().min(1).max(1_000).default(2),
  CHECKOUT_BATCH_MAX: z.coerce.number().int().min(1).max(1_000).default(CHECKOUT_BATCH_MAX),
  ORDER_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(30),
  // how often each process looks for cart holds past their time (with jitter): units come back within about 1.5 of these;
  // 0: this process does not look (another must; checkouts and holds still end the expired holds they need)
  RESERVATION_EXPIRY_INTERVAL_MS: z.coerce
    .number()
    .int()
    .refine((ms) => ms === 0 || (ms >= 100 && ms <= 3_000), "must be 0 (no sweep on this process) or between 100 and 3000")
    .default(1_000),
  // load shedding (src/http/load-shedding.ts): past any bound, new requests are refused 503; see the README's Scaling
  LOAD_SHEDDING: z.stringbool().default(true),
  LOAD_SHEDDING_MAX_EVENT_LOOP_DELAY_MS: z.coerce.number().int().min(1).max(60_000).default(LOAD_SHEDDING_DEFAULTS.maxEventLoopDelayMs),
  LOAD_SHEDDING_MAX_CHECKOUTS_WAITING: z.coerce.number().int().min(0).max(1_000_000).default(LOAD_SHEDDING_DEFAULTS.maxCheckoutsWaiting),
  LOAD_SHEDDING_MAX_POOL_WAITING: z.coerce.number().int().min(0).max(1_000_000).default(LOAD_SHEDDING_DEFAULTS.maxPoolWaiting),
  LOAD_SHEDDING_RETRY_AFTER_S: z.coerce.number().int().min(1).max(3_600).default(LOAD_SHEDDING_DEFAULTS.retryAfterSeconds),
  STOREFRONT_TOKEN_ORDERS_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  // true means one proxy; a number says how many stand in front of the service
  TRUST_PROXY: z.union([z.stringbool(), z.coerce.number().int().min(0).max(10)]).default(false),
  ACCOUNTING_SECRET_KEY: z.string().min(1).optional(),
  ACCOUNTING_RECONCILE_INTERVAL_MS: z.coerce.number().int().min(0).default(15 * 60_000),
  ACCOUNTING_TIMEOUT_MS: z.coerce.number().int().min(1).default(10_000),
  ACCOUNTING_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(10).default(4),
  ACCOUNTING_RETRY_DELAY_MS: z.coerce.number().int().min(0).default(500),
  // hosts besides the provider's that a store's accounting base URL may name: host or host:port, comma-separated
  ACCOUNTING_ALLOWED_HOSTS: z
    .string()
    .refine((hosts) => hostList(hosts).every(isAllowedHostEntry), "host or host:port entries, comma-separated")
    .default(""),
})
  .refine((e) => e.HTTP_HEADERS_TIMEOUT_MS <= e.HTTP_REQUEST_TIMEOUT_MS, {
    message: "must not be above HTTP_REQUEST_TIMEOUT_MS",
    path: ["HTTP_HEADERS_TIMEOUT_MS"],
  });

const hostList = (hosts: string) => hosts.split(",").map((host) => host.trim()).filter(Boolean);
const isAllowedHostEntry = (entry: string) => {
  try {
    parseAllowedHost(entry);
    return true;
  } catch {
    return false;
  }
};

/** The deployment's Redis: one server, or a Redis Cluster reached through some of its nodes. */
export type RedisTarget = { url: string } | { clusterNodes: { host: string; port: number }[] };

function redisTargetOf(url: string | undefined, clusterNodes: string | undefined): RedisTarget | undefined {
  if (url && clusterNodes) throw new Error("Invalid configuration: set REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a Redis Cluster), not both");
  if (url) return { url };
  if (!clusterNodes) return undefined;
  return {
    clusterNodes: clusterNodes.split(",").map((seed) => {
      const [host, port] = seed.trim().split(":");
      return { host: host!, port: Number(port) };
    }),
  };
}

/** What one HTTP or WebSocket GraphQL request may ask (applied in src/graphql/limits.ts). */
export type RequestLimits = {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
  maxDirectives: number;
  /** HTTP request bodies above this are refused with 413 before they are parsed */
  maxBodyBytes: number;
};

/** Per process: sockets per client address (or storefront token shopper), per storefront token, subscriptions per socket. */
export type WebSocketLimits = {
  maxSubscriptionsPerSocket: number;
  maxSocketsPerClient: number;
  maxSocketsPerStorefrontToken: number;
};

/** Node's server timeouts (its defaults let a request trickle in for 300 s). */
export type HttpTimeouts = {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** how long an idle keep-alive connection stays open: above a load balancer's own (nginx, ALB: 60 s) */
  keepAliveTimeoutMs: number;
};

export type Config = {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  /** REDIS_URL or REDIS_CLUSTER_NODES (at most one is set): where live updates and rate counts go */
  redis: RedisTarget | undefined;
  /** WebSocket ping interval; a socket that does not answer a ping within as long is dropped. */
  webSocketKeepAliveMs: number;
  /** How long a new WebSocket may take to send graphql-ws' connection_init. */
  webSocketInitTimeoutMs: number;
  /** How many sockets and subscriptions one client may hold open on this process (src/http/socket-limits.ts). */
  webSocketLimits: WebSocketLimits;
  /** How long a client may take to send a request's headers, and the whole request with its body. */
  http: HttpTimeouts;
  dataDir: string;
  logLevel: z.infer<typeof EnvSchema>["LOG_LEVEL"];
  production: boolean;
  graphiql: boolean;
  introspection: boolean;
  limits: RequestLimits;
  /** Refuse "simple" (CORS-unchecked) browser requests that lack a GraphQL client header. */
  csrfPrevention: boolean;
  /** checkout calls (batches) of one store this process runs in PostgreSQL at once (src/orders/checkout-turns.ts) */
  checkoutConcurrencyPerStore: number;
  /** the most checkouts one batch carries */
  checkoutBatchMax: number;
  /** placeOrder calls one client may make per store and minute; 0 turns the limit off. */
  orderRateLimitPerMinute: number;
  /** how often this process ends the cart holds past their expiresAt (src/orders/reservation-expiry.ts) */
  reservationExpiryIntervalMs: number;
  /** when new requests are refused 503 for this process being past what it can serve (src/http/load-shedding.ts) */
  loadShedding: LoadSheddingSettings;
  /** placeOrder calls per store and minute of one storefront token (its shoppers count apart too). */
  storefrontTokenOrdersPerMinute: number;
  /** How many reverse proxies in front of the service append to X-Forwarded-For (0: ignore it). */
  trustProxy: number;
  accounting: {
    /** 32 bytes (base64 or hex) sealing stored credentials; unset: a key file under dataDir */
    secretKey: string | undefined;
    /** periodic reconciliation with the accounting system; 0 turns it off */
    reconcileIntervalMs: number;
    timeoutMs: number;
    maxAttempts: number;
    retryDelayMs: number;
    /** hosts (host or host:port) a store's API base URL may name besides the provider's */
    allowedHosts: string[];
  };
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid configuration:\n${z.prettifyError(parsed.error)}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";
  return {
    port: e.PORT,
    host: e.HOST,
    publicUrl: (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, ""),
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redis: redisTargetOf(e.REDIS_URL || undefined, e.REDIS_CLUSTER_NODES || undefined),
    webSocketKeepAliveMs: e.WS_KEEPALIVE_MS,
    webSocketInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
    webSocketLimits: {
      maxSubscriptionsPerSocket: e.WS_MAX_SUBSCRIPTIONS_PER_SOCKET,
      maxSocketsPerClient: e.WS_MAX_SOCKETS_PER_CLIENT,
      maxSocketsPerStorefrontToken: e.WS_MAX_SOCKETS_PER_STOREFRONT_TOKEN,
    },
    http: {
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    },
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    production,
    graphiql: e.GRAPHIQL ?? !production,
    introspection: e.INTROSPECTION ?? !production,
    limits: {
      maxDepth: e.GRAPHQL_MAX_DEPTH,
      maxAliases: e.GRAPHQL_MAX_ALIASES,
      maxTokens: e.GRAPHQL_MAX_TOKENS,
      maxCost: e.GRAPHQL_MAX_COST,
      maxDirectives: e.GRAPHQL_MAX_DIRECTIVES,
      maxBodyBytes: e.MAX_BODY_BYTES,
    },
    csrfPrevention: e.CSRF_PREVENTION,
    checkoutConcurrencyPerStore: e.CHECKOUT_CONCURRENCY_PER_STORE,
    checkoutBatchMax: e.CHECKOUT_BATCH_MAX,
    orderRateLimitPerMinute: e.ORDER_RATE_LIMIT_PER_MINUTE,
    reservationExpiryIntervalMs: e.RESERVATION_EXPIRY_INTERVAL_MS,
    loadShedding: {
      enabled: e.LOAD_SHEDDING,
      maxEventLoopDelayMs: e.LOAD_SHEDDING_MAX_EVENT_LOOP_DELAY_MS,
      maxCheckoutsWaiting: e.LOAD_SHEDDING_MAX_CHECKOUTS_WAITING,
      maxPoolWaiting: e.LOAD_SHEDDING_MAX_POOL_WAITING,
      retryAfterSeconds: e.LOAD_SHEDDING_RETRY_AFTER_S,
    },
    storefrontTokenOrdersPerMinute: e.STOREFRONT_TOKEN_ORDERS_PER_MINUTE,
    trustProxy: Number(e.TRUST_PROXY),
    accounting: {
      secretKey: e.ACCOUNTING_SECRET_KEY,
      reconcileIntervalMs: e.ACCOUNTING_RECONCILE_INTERVAL_MS,
      timeoutMs: e.ACCOUNTING_TIMEOUT_MS,
      maxAttempts: e.ACCOUNTING_MAX_ATTEMPTS,
      retryDelayMs: e.ACCOUNTING_RETRY_DELAY_MS,
      allowedHosts: hostList(e.ACCOUNTING_ALLOWED_HOSTS),
    },
  };
}

/** The settings of an empty environment: what a server built without a loaded config uses. */
export const defaultConfig = (): Config => loadConfig({});
