import { z } from "zod";
import type { Logger } from "../logger.ts";
import { RefusedAddress, type AccountingNetwork } from "./accounting-network.ts";

/**
 * The connector for the subset of Alegra's API v1 that the service speaks (accounting-api.md).
 * HTTP Basic auth, JSON, lists paged by `start`/`limit` (at most 30). Every call has a timeout;
 * 429, 5xx and network failures are retried a bounded number of times with exponential backoff
 * and jitter, except that an invoice (not idempotent) is only re-sent when the server surely did
 * not process it (429, 503, connection refused), so a slow answer never issues two invoices.
 * Whatever cannot be done ends as an AccountingUnavailable error with a message fit for a merchant.
 * Every call goes through the AccountingNetwork (allowed hosts, public addresses, no redirects),
 * and every failure to get an answer, whatever its cause, reads the same ("could not reach the
 * accounting system"; the log has the cause), so that the answers never tell which addresses or
 * ports exist. What the accounting system says back is quoted only filtered and cut short.
 * Responses are read tolerantly: fields the doc marks as assumed may be absent, which is logged.
 */

export const DEFAULT_BASE_URL = "https://api.alegra.com/api/v1";
export const PAGE_SIZE = 30;
const MAX_ITEMS = 100_000;
const MAX_RETRY_AFTER_MS = 10_000;
/** what every call that got no answer says, refused, reset, timed out or not allowed alike */
export const UNREACHABLE = "could not reach the accounting system";

export type AccountingCredentials = { baseUrl: string; email: string; token: string };

export type HttpPolicy = {
  /** per call, until the whole answer is read */
  timeoutMs: number;
  /** attempts per call, the first included */
  maxAttempts: number;
  /** backoff before retry n is about retryDelayMs * 2^(n-1), jittered */
  retryDelayMs: number;
};

/** The accounting system could not be reached or refused the request. */
export class AccountingUnavailable extends Error {
  constructor(
    message: string,
    readonly status: number | null = null,
  ) {
    super(message);
    this.name = "AccountingUnavailable";
  }
}

export const AccountingId = z.union([z.string().min(1), z.number()]).transform(String);
const Quantity = z.union([z.number(), z.string().regex(/^-?\d+(\.\d+)?$/)]).transform(Number);

const WarehouseSchema = z.object({
  id: AccountingId,
  name: z.string().catch(""),
  isDefault: z.boolean().optional().catch(undefined),
  status: z.string().optional().catch(undefined),
});

const ItemSchema = z.object({
  id: AccountingId,
  name: z.string().catch(""),
  reference: z
    .union([z.string(), z.object({ reference: z.string() }).transform((r) => r.reference)])
    .nullish()
    .catch(null),
  inventory: z
    .object({
      availableQuantity: Quantity.optional().catch(undefined),
      warehouses: z.array(z.object({ id: AccountingId, availableQuantity: Quantity.catch(0) })).optional().catch(undefined),
    })
    .nullish()
    .catch(null),
});

const InvoiceSchema = z.object({
  id: AccountingId,
  numberTemplate: z.object({ fullNumber: z.string().nullish() }).nullish().catch(null),
});

const SubscriptionSchema = z.object({ id: AccountingId, url: z.string(), event: z.string() });

export type AccountingWarehouse = z.infer<typeof WarehouseSchema>;
export type AccountingItem = z.infer<typeof ItemSchema>;
export type WebhookSubscription = z.infer<typeof SubscriptionSchema>;
export type IssuedInvoice = { id: string; number: string | null };

export type InvoiceRequest = {
  date: string;
  dueDate: string;
  client: { id: string };
  items: { id: string; price: number; quantity: number; warehouse: { id: string } }[];
  observations: string;
  status: "open";
};

type Method = "GET" | "POST" | "DELETE";

export class AccountingApi {
  private readonly authorization: string;
  private readonly baseUrl: string;

  constructor(
    credentials: AccountingCredentials,
    private readonly policy: HttpPolicy,
    private readonly network: AccountingNetwork,
    private readonly logger: Logger,
  ) {
    this.authorization = `Basic ${Buffer.from(`${credentials.email}:${credentials.token}`).toString("base64")}`;
    this.baseUrl = credentials.baseUrl.replace(/\/+$/, "");
  }

  /** GET /company: checks that the credentials work. */
  async checkCredentials(): Promise<void> {
    await this.call("GET", "/company");
  }

  async warehouses(): Promise<AccountingWarehouse[]> {
    return this.parseList(await this.call("GET", "/warehouses"), WarehouseSchema, "warehouse");
  }

  /** Every item, reading page after page until a short page. */
  async allItems(): Promise<AccountingItem[]> {
    const items: AccountingItem[] = [];
    for (let start = 0; ; start += PAGE_SIZE) {
      const page = await this.call("GET", `/items?start=${start}&limit=${PAGE_SIZE}`);
      const rows = listOf(page);
      items.push(...this.parseList(rows, ItemSchema, "item"));
      if (rows.length < PAGE_SIZE) return items;
      if (items.length >= MAX_ITEMS) throw new AccountingUnavailable(`more than ${MAX_ITEMS} accounting items; refusing to read on`);
    }
  }

  /** One item, or null when the accounting system no longer has it. */
  async item(id: string): Promise<AccountingItem | null> {
    const body = await this.call("GET", `/items/${encodeURIComponent(id)}`, undefined, { notFoundIsNull: true });
    if (body === null) return null;
    const parsed = ItemSchema.safeParse(body);
    if (!parsed.success) throw new AccountingUnavailable(`the accounting system answered an unreadable item ${id}`);
    return parsed.data;
  }

  async createInvoice(invoice: InvoiceRequest): Promise<IssuedInvoice> {
    const parsed = InvoiceSchema.safeParse(await this.call("POST", "/invoices", invoice));
    if (!parsed.success) throw new AccountingUnavailable("the accounting system answered an invoice without an id");
    return { id: parsed.data.id, number: parsed.data.numberTemplate?.fullNumber ?? null };
  }

  async webhookSubscriptions(): Promise<WebhookSubscription[]> {
    return this.parseList(await this.call("GET", "/webhooks/subscriptions"), SubscriptionSchema, "webhook subscription");
  }

  async subscribe(url: string, event: string): Promise<void> {
    await this.call("POST", "/webhooks/subscriptions", { url, event });
  }

  async unsubscribe(id: string): Promise<void> {
    await this.call("DELETE", `/webhooks/subscriptions/${encodeURIComponent(id)}`, undefined, { notFoundIsNull: true });
  }

  private parseList<S extends z.ZodType>(body: unknown, schema: S, what: string): z.infer<S>[] {
    const parsed: z.infer<S>[] = [];
    for (const row of listOf(body)) {
      const result = schema.safeParse(row);
      if (result.success) parsed.push(result.data);
      else this.logger.warn({ row, issue: result.error.issues[0] }, `skipped an unreadable accounting ${what}`);
    }
    return parsed;
  }

  private async call(method: Method, path: string, body?: unknown, options: { notFoundIsNull?: boolean } = {}): Promise<unknown> {
    // a connection stored before its host stopped being allowed is refused here, every call
    const refusal = this.network.refusal(this.baseUrl);
    if (refusal) {
      this.logger.warn({ baseUrl: this.baseUrl, refusal }, "accounting API address not allowed (ACCOUNTING_ALLOWED_HOSTS)");
      throw new AccountingUnavailable(UNREACHABLE);
    }
    for (let attempt = 1; ; attempt++) {
      const failure = await this.attempt(method, path, body);
      if (!(failure instanceof Failure)) return failure.body;
      if (failure.status === 404 && options.notFoundIsNull) return null;
      if (!failure.retryable || attempt >= this.policy.maxAttempts) {
        throw new AccountingUnavailable(
          failure.retryable ? `${failure.message} (gave up after ${attempt} attempts)` : failure.message,
          failure.status,
        );
      }
      const delay = this.backoff(attempt, failure.retryAfterMs);
      this.logger.warn({ method, path, attempt, delay, reason: failure.message }, "accounting call failed; retrying");
      await sleep(delay);
    }
  }

  private async attempt(method: Method, path: string, body: unknown): Promise<{ body: unknown } | Failure> {
    const label = `${method} ${path.split("?")[0]}`;
    const notIdempotent = method === "POST";
    try {
      const response = await this.network.fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          authorization: this.authorization,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.policy.timeoutMs),
      });
      const text = await response.text();
      if (response.ok) return { body: text ? JSON.parse(text) : null };
      const status = response.status;
      if (status >= 300 && status < 400) {
        this.logger.warn({ label, status, location: response.headers.get("location") }, "the accounting system answered a redirect; not followed");
        return new Failure(`the accounting system answered HTTP ${status} to ${label} (a redirect, not followed)`, status, false);
      }
      const transient = status === 429 || status === 503 || (status >= 500 && !notIdempotent);
      if (status === 401 || status === 403) {
        return new Failure(`the accounting system refused the credentials (HTTP ${status})`, status, false);
      }
      const detail = errorMessageOf(text);
      return new Failure(
        `the accounting system answered HTTP ${status} to ${label}${detail ? `: ${detail}` : ""}`,
        status,
        transient,
        retryAfterMs(response.headers.get("retry-after")),
      );
    } catch (error) {
      const err = error as Error & { cause?: Error & { code?: string } };
      if (err instanceof SyntaxError) return new Failure(`${label} answered something that is not JSON`, null, false);
      const timedOut = err.name === "TimeoutError" || err.name === "AbortError";
      const cause = timedOut ? `timed out after ${this.policy.timeoutMs} ms` : (err.cause?.code ?? err.cause?.message ?? err.message);
      this.logger.warn({ label, cause, address: err.cause instanceof RefusedAddress ? err.cause.address : undefined }, "accounting call got no answer");
      if (err.cause instanceof RefusedAddress) return new Failure(UNREACHABLE, null, false);
      // an invoice is re-sent only when it surely never arrived
      return new Failure(UNREACHABLE, null, !notIdempotent || err.cause?.code === "ECONNREFUSED");
    }
  }

  private backoff(attempt: number, retryAfter: number | null): number {
    if (retryAfter !== null) return Math.min(retryAfter, MAX_RETRY_AFTER_MS);
    const ceiling = this.policy.retryDelayMs * 2 ** (attempt - 1);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }
}

class Failure {
  constructor(
    readonly message: string,
    readonly status: number | null,
    readonly retryable: boolean,
    readonly retryAfterMs: number | null = null,
  ) {}
}

/** Lists come as a JSON array, or as `{ data: [...] }` when metadata is asked for. */
function listOf(body: unknown): unknown[] {
  if (Array.isArray(body)) return body;
  const data = (body as { data?: unknown } | null)?.data;
  if (Array.isArray(data)) return data;
  throw new AccountingUnavailable("the accounting system answered a list in an unknown shape");
}

/**
 * The `message` of an error answer, fit to show a merchant: letters, digits, punctuation and
 * spaces only (no control, format or bidirectional characters), at most 200 of them.
 */
function errorMessageOf(text: string): string {
  let message: unknown;
  try {
    message = (JSON.parse(text) as { message?: unknown }).message;
  } catch {
    return ""; // not JSON: the status says enough
  }
  if (typeof message !== "string") return "";
  const shown = message
    .normalize("NFC")
    .replace(/[^\p{L}\p{M}\p{N}\p{P}\p{Zs}$+=^|~]/gu, " ")
    .replace(/\s+/g, " ")
    .trim();
  return [...shown].slice(0, 200).join("");
}

function retryAfterMs(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : null;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
