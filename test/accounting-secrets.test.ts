import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadSecretKey, open, seal } from "../src/accounting/secret-box.ts";
import { createLogger } from "../src/logger.ts";

const logger = createLogger("silent");

describe("accounting credentials at rest", () => {
  it("a sealed token opens with its key for its store only", () => {
    const key = randomBytes(32);
    const storeId = randomUUID();
    const sealed = seal(key, storeId, "alegra-token-123");
    expect(sealed.toString("latin1")).not.toContain("alegra-token-123");
    expect(open(key, storeId, sealed)).toBe("alegra-token-123");
    expect(() => open(key, randomUUID(), sealed)).toThrow();
    expect(() => open(randomBytes(32), storeId, sealed)).toThrow();
    expect(seal(key, storeId, "alegra-token-123")).not.toEqual(sealed); // a fresh IV every time
  });

  it("takes ACCOUNTING_SECRET_KEY as base64 or hex, and refuses a key of the wrong size", async () => {
    const key = randomBytes(32);
    const dir = await mkdtemp(join(tmpdir(), "secret-key-"));
    expect(await loadSecretKey(key.toString("base64"), dir, logger)).toEqual(key);
    expect(await loadSecretKey(key.toString("hex"), dir, logger)).toEqual(key);
    await expect(loadSecretKey(randomBytes(16).toString("base64"), dir, logger)).rejects.toThrow(/32 bytes/);
  });

  it("without ACCOUNTING_SECRET_KEY generates a key file once, readable by its owner only, and reuses it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "secret-key-"));
    const [first, second] = await Promise.all([loadSecretKey(undefined, dir, logger), loadSecretKey(undefined, dir, logger)]);
    expect(first).toHaveLength(32);
    expect(second).toEqual(first);
    expect(await loadSecretKey(undefined, dir, logger)).toEqual(first);
    const file = join(dir, "accounting-secret.key");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Buffer.from((await readFile(file, "utf8")).trim(), "base64")).toEqual(first);
  });
});
