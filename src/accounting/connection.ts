import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import type { Deps } from "../deps.ts";
import { OperationError } from "../errors.ts";
import { newStoreSecret, parseStoreSecret } from "../stores/store-secrets.ts";
import { check } from "../validation.ts";
import { AccountingApi, AccountingUnavailable, DEFAULT_BASE_URL } from "./accounting-api.ts";
import type { AccountingNetwork } from "./accounting-network.ts";
import { open, seal } from "./secret-box.ts";

/**
 * A store's connection to its accounting system: the API base URL and credentials (the token
 * sealed at rest, never returned), the contact its invoices go to, and the secret of the URL that
 * receives the accounting system's notifications.
 */

export const WEBHOOK_PATH = "/webhooks/accounting/";
const WEBHOOK_SECRET_KIND = "whk";
export const notConnected = () =>
  new OperationError("ACCOUNTING_NOT_CONNECTED", "connect the accounting system first (connectAccounting)");

/** Everything needed to talk to a store's accounting system. */
export type AccountingLink = {
  api: AccountingApi;
  webhookUrl: string;
  /** the secret part of webhookUrl, which tells this store's notifications from anything else */
  webhookSecret: string;
  invoiceClientId: string;
};

export type ConnectAccountingInput = {
  baseUrl?: string | null;
  email: string;
  token: string;
  invoiceClientId?: string | null;
};

const Connect = (network: AccountingNetwork) =>
  z.object({
    baseUrl: z
      .string()
      .trim()
      .max(500)
      .superRefine((baseUrl, ctx) => {
        const refusal = network.refusal(baseUrl);
        if (refusal) ctx.addIssue({ code: "custom", message: refusal });
      })
      .nullish(),
    email: z.string().trim().max(254).pipe(z.email("must be an e-mail address")),
    token: z.string().trim().min(1, "must not be empty").max(500),
    invoiceClientId: z.string().trim().regex(/^[\w-]{1,50}$/, "must be an accounting contact id").nullish(),
  });

/**
 * `connectAccounting`: checks the credentials with one call (GET /company) and stores them.
 * The base URL must be one of the allowed accounting hosts (accounting-network.ts; INVALID_INPUT
 * otherwise). A refused or failed check stores nothing and answers ACCOUNTING_UNAVAILABLE. Reconnecting keeps
 * the webhook URL, so subscriptions registered earlier keep working.
 */
export async function connectAccounting(deps: Deps, storeId: string, input: ConnectAccountingInput): Promise<OperationError | null> {
  const valid = check(Connect(deps.accounting.network), input);
  if (valid instanceof OperationError) return valid;
  const baseUrl = (valid.baseUrl ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
  try {
    const api = new AccountingApi({ baseUrl, email: valid.email, token: valid.token }, deps.accounting.http, deps.accounting.network, deps.logger);
    await api.checkCredentials();
  } catch (error) {
    if (error instanceof AccountingUnavailable) return new OperationError("ACCOUNTING_UNAVAILABLE", error.message);
    throw error;
  }
  const key = deps.accounting.secretKey;
  const credentials = { baseUrl, email: valid.email, tokenSealed: seal(key, storeId, valid.token) };
  await deps.db.prisma.accountingConnection.upsert({
    where: { storeId },
    create: {
      storeId,
      ...credentials,
      webhookSecretSealed: seal(key, storeId, newStoreSecret(WEBHOOK_SECRET_KIND, storeId).text),
      invoiceClientId: valid.invoiceClientId ?? "1",
    },
    update: { ...credentials, invoiceClientId: valid.invoiceClientId ?? undefined },
  });
  return null;
}

/** The store's accounting link, or null when the store never connected one. */
export async function openAccountingLink(deps: Deps, storeId: string): Promise<AccountingLink | null> {
  const row = await deps.db.prisma.accountingConnection.findUnique({ where: { storeId } });
  if (!row) return null;
  const key = deps.accounting.secretKey;
  const webhookSecret = open(key, storeId, row.webhookSecretSealed);
  return {
    api: new AccountingApi(
      { baseUrl: row.baseUrl, email: row.email, token: open(key, storeId, row.tokenSealed) },
      deps.accounting.http,
      deps.accounting.network,
      deps.logger,
    ),
    webhookUrl: `${deps.accounting.publicUrl}${WEBHOOK_PATH}${webhookSecret}`,
    webhookSecret,
    invoiceClientId: row.invoiceClientId,
  };
}

/**
 * The store a notification URL's secret belongs to, or null. Like admin tokens, the secret names
 * its store (`whk_<store id>_<random>`), so one row is read and compared in constant time.
 */
export async function storeForWebhookSecret(deps: Deps, presented: string): Promise<string | null> {
  const storeId = parseStoreSecret(WEBHOOK_SECRET_KIND, presented)?.storeId;
  if (!storeId) return null;
  const connection = await deps.db.prisma.accountingConnection.findUnique({
    where: { storeId },
    select: { webhookSecretSealed: true },
  });
  if (!connection) return null;
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(open(deps.accounting.secretKey, storeId, connection.webhookSecretSealed)), digest(presented)) ? storeId : null;
}
