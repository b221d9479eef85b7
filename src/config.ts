import { z } from "zod";

/** Every setting the service reads, from the environment, checked once at start. */
const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(4000),
  HOST: z.string().default("0.0.0.0"),
  PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(500).default(20),
  REDIS_URL: z.string().min(1).optional(),
  WS_KEEPALIVE_MS: z.coerce.number().int().min(1_000).max(300_000).default(20_000),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  DATA_DIR: z.string().default(".data"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  NODE_ENV: z.string().default("development"),
  GRAPHIQL: z.stringbool().optional(),
  INTROSPECTION: z.stringbool().optional(),
});

export type Config = {
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  redisUrl: string | undefined;
  /** WebSocket ping interval; a socket that does not answer a ping within as long is dropped. */
  webSocketKeepAliveMs: number;
  /** How long a new WebSocket may take to send graphql-ws' connection_init. */
  webSocketInitTimeoutMs: number;
  dataDir: string;
  logLevel: z.infer<typeof EnvSchema>["LOG_LEVEL"];
  production: boolean;
  graphiql: boolean;
  introspection: boolean;
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
    redisUrl: e.REDIS_URL,
    webSocketKeepAliveMs: e.WS_KEEPALIVE_MS,
    webSocketInitTimeoutMs: e.WS_CONNECTION_INIT_TIMEOUT_MS,
    dataDir: e.DATA_DIR,
    logLevel: e.LOG_LEVEL,
    production,
    graphiql: e.GRAPHIQL ?? !production,
    introspection: e.INTROSPECTION ?? !production,
  };
}
