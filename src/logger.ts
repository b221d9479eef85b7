import { createRequire } from "node:module";
import { pino } from "pino";
import type PinoPretty from "pino-pretty";

export type Logger = pino.Logger;

export type LogFormat = "pretty" | "json";

/**
 * How log lines are written: coloured, readable lines for a person at a terminal (stdout is a TTY
 * and NODE_ENV is not production); one JSON object per line for everything else (containers,
 * log collectors, pipes, files), which is what the operations tooling reads.
 */
export function logFormatFor(env: NodeJS.ProcessEnv, stdoutIsTTY: boolean): LogFormat {
  return stdoutIsTTY && env.NODE_ENV !== "production" ? "pretty" : "json";
}

export function createLogger(level: string = process.env.LOG_LEVEL ?? "info"): Logger {
  const options = { level, base: { service: "store-inventory" } };
  const pretty = logFormatFor(process.env, process.stdout.isTTY === true) === "pretty" ? prettyPrinter() : undefined;
  return pretty ? pino(options, pretty) : pino(options);
}

/**
 * pino-pretty, in this thread and synchronous (nothing is lost at process.exit). It is a dev
 * dependency: where only production dependencies are installed the logs stay JSON.
 */
function prettyPrinter() {
  let build: typeof PinoPretty;
  try {
    build = createRequire(import.meta.url)("pino-pretty");
  } catch {
    return undefined;
  }
  return build({ colorize: true, sync: true, singleLine: true, ignore: "pid,hostname,service", translateTime: "SYS:HH:MM:ss.l" });
}
