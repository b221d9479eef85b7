import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../logger.ts";

/**
 * Secrets at rest (the accounting API token, the webhook URL secret) are sealed with AES-256-GCM.
 * The key is ACCOUNTING_SECRET_KEY (32 bytes, base64 or hex) when set; otherwise one is generated
 * on first start and kept in `<data dir>/accounting-secret.key` (mode 0600), so a database dump
 * alone never reveals a merchant's credentials. Each sealed value is bound to its store (GCM
 * additional data), so a value copied to another store's row does not open.
 */

const KEY_FILE = "accounting-secret.key";
const VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export function parseSecretKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32) throw new Error("ACCOUNTING_SECRET_KEY must be 32 bytes, written as base64 or 64 hex digits");
  return key;
}

/** The sealing key: from the environment, else the key file under `dataDir`, created once. */
export async function loadSecretKey(configured: string | undefined, dataDir: string, logger: Logger): Promise<Buffer> {
  if (configured) return parseSecretKey(configured);
  const file = join(dataDir, KEY_FILE);
  try {
    return parseSecretKey(await readFile(file, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dataDir, { recursive: true });
  try {
    // "wx": of two processes starting together, one writes the key and the other reads it
    await writeFile(file, `${randomBytes(32).toString("base64")}\n`, { mode: 0o600, flag: "wx" });
    logger.warn({ file }, "ACCOUNTING_SECRET_KEY is not set: generated a key file; back it up with the database");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return parseSecretKey(await readFile(file, "utf8"));
}

/** version (1 byte) | iv (12) | auth tag (16) | ciphertext */
export function seal(key: Buffer, storeId: string, plaintext: string): Buffer<ArrayBuffer> {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(storeId));
  const ciphertext = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), ciphertext]);
}

/** Opens a sealed value; throws when the key, the store or the bytes are not the ones sealed. */
export function open(key: Buffer, storeId: string, sealed: Uint8Array): string {
  if (sealed[0] !== VERSION) throw new Error("unknown sealed secret version");
  const iv = sealed.subarray(1, 1 + IV_BYTES);
  const tag = sealed.subarray(1 + IV_BYTES, 1 + IV_BYTES + TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, iv).setAAD(Buffer.from(storeId)).setAuthTag(tag);
  return Buffer.concat([decipher.update(sealed.subarray(1 + IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
}
