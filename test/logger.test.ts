import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { logFormatFor } from "../src/logger.ts";

const run = promisify(execFile);
// util-linux's `script` gives a command a pseudo-terminal: its stdout is a TTY as in a terminal
const SCRIPT = "/usr/bin/script";
const LOG_ONE_LINE = `import("./src/logger.ts").then(({ createLogger }) => createLogger("info").info({ reqId: "r-1" }, "hello"))`;
const ANSI_COLOUR = /\u001b\[\d+m/;

describe("log format", () => {
  it("is pretty for a terminal outside production, JSON in production and whenever stdout is not a terminal", () => {
    expect(logFormatFor({}, true)).toBe("pretty");
    expect(logFormatFor({ NODE_ENV: "development" }, true)).toBe("pretty");
    expect(logFormatFor({ NODE_ENV: "production" }, true)).toBe("json");
    expect(logFormatFor({}, false)).toBe("json");
    expect(logFormatFor({ NODE_ENV: "production" }, false)).toBe("json");
  });

  describe.skipIf(!existsSync(SCRIPT))("in a process of its own", () => {
    let dir: string;
    let withoutPinoPretty: string;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "inventory-logger-"));
      // what an install of the production dependencies alone looks like to the logger
      // (imported after tsx, whose resolver it wraps)
      withoutPinoPretty = join(dir, "without-pino-pretty.mjs");
      await writeFile(
        withoutPinoPretty,
        `import Module from "node:module";
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "pino-pretty") throw Object.assign(new Error("Cannot find module 'pino-pretty'"), { code: "MODULE_NOT_FOUND" });
  return resolve.call(this, request, ...rest);
};`,
      );
    });
    afterAll(async () => {
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    /** What one log line looks like with stdout a terminal (or a pipe), NODE_ENV as given. */
    async function logLine(options: { terminal: boolean; nodeEnv?: string; nodeArgs?: string[] }) {
      const node = [process.execPath, "--import", "tsx", ...(options.nodeArgs ?? []), "-e", LOG_ONE_LINE];
      const env = { ...process.env, NODE_ENV: options.nodeEnv ?? "development" };
      if (!options.terminal) return (await run(node[0], node.slice(1), { env })).stdout;
      const command = node.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(" ");
      return (await run(SCRIPT, ["-qec", command, "/dev/null"], { env })).stdout;
    }

    it("writes coloured, readable lines to a terminal", async () => {
      const line = await logLine({ terminal: true });
      expect(line).toMatch(ANSI_COLOUR);
      expect(line).toContain("hello");
      expect(line).not.toContain('"msg"');
    });

    it("writes JSON to a pipe, to a terminal in production, and where pino-pretty is not installed", async () => {
      for (const line of [
        await logLine({ terminal: false }),
        await logLine({ terminal: true, nodeEnv: "production" }),
        await logLine({ terminal: true, nodeArgs: ["--import", withoutPinoPretty] }),
      ]) {
        expect(line).not.toMatch(ANSI_COLOUR);
        expect(JSON.parse(line.trim())).toMatchObject({ level: 30, msg: "hello", reqId: "r-1" });
      }
    });
  });
});
