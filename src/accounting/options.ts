import type { Config } from "../config.ts";
import type { Logger } from "../logger.ts";
import { AccountingLocks } from "./accounting-lock.ts";
import type { HttpPolicy } from "./accounting-api.ts";
import { AccountingNetwork } from "./accounting-network.ts";

/** What the accounting services need besides the database: built once per process. */
export type AccountingOptions = {
  /** base of the webhook URL registered with the accounting system (PUBLIC_URL) */
  publicUrl: string;
  /** AES-256-GCM key that seals the stored credentials (secret-box.ts) */
  secretKey: Buffer;
  http: HttpPolicy;
  /** how long an invoice or a manual sync waits for another accounting operation of its store */
  lockWaitMs: number;
  /** the hosts the connector may reach and the guarded connections to them (http too outside production) */
  network: AccountingNetwork;
  locks: AccountingLocks;
};

export function accountingOptions(config: Config, secretKey: Buffer, logger?: Logger): AccountingOptions {
  return {
    publicUrl: config.publicUrl,
    secretKey,
    http: {
      timeoutMs: config.accounting.timeoutMs,
      maxAttempts: config.accounting.maxAttempts,
      retryDelayMs: config.accounting.retryDelayMs,
    },
    lockWaitMs: 15_000,
    network: new AccountingNetwork({ allowedHosts: config.accounting.allowedHosts, allowHttp: !config.production }),
    locks: new AccountingLocks({ logger }),
  };
}
