import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import type { Deps } from "../deps.ts";
import { AccountingId } from "./accounting-api.ts";
import { storeForWebhookSecret, WEBHOOK_PATH } from "./connection.ts";
import { NotificationQueue, type NotificationWork } from "./notification-queue.ts";

export { WEBHOOK_PATH };

const MAX_BODY_BYTES = 1_048_576;

const Notification = z.object({
  subject: z.string(),
  message: z
    .object({
      item: z.object({ id: AccountingId }).optional().catch(undefined),
      invoice: z
        .object({ items: z.array(z.object({ id: AccountingId })).optional().catch(undefined) })
        .optional()
        .catch(undefined),
    })
    .optional()
    .catch(undefined),
});

export type AccountingWebhooks = {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  /** resolves once every accepted notification has been acted on */
  idle(): Promise<void>;
  close(): Promise<void>;
};

/**
 * `POST /webhooks/accounting/<secret>`: where the accounting system delivers its notifications.
 * The secret in the URL is what authenticates them (they carry no signature): a wrong one is 404.
 * The empty POST sent when a subscription is created gets 200. A notification is answered 202 at
 * once and its work queued: item and invoice events re-read the items they name through the API;
 * one that names none asks for a whole sync.
 */
export function createAccountingWebhooks(deps: Deps): AccountingWebhooks {
  const queue = new NotificationQueue(deps);
  return {
    async handle(req, res) {
      try {
        if (req.method !== "POST") return reply(res, 405, { error: "use POST" });
        const storeId = await storeForWebhookSecret(deps, secretOf(req.url!));
        if (!storeId) return reply(res, 404, { error: "not found" });
        const body = await readBody(req);
        if (body === null) return reply(res, 413, { error: "notification too large" });
        if (body.trim() === "") return reply(res, 200, { status: "ok" });
        const work = workOf(body);
        if (work) queue.add(storeId, work);
        else deps.logger.info({ storeId, body: body.slice(0, 200) }, "ignored an accounting notification");
        reply(res, 202, { status: "accepted" });
      } catch (error) {
        deps.logger.error({ err: error }, "accounting webhook failed");
        if (!res.headersSent) reply(res, 500, { error: "internal error" });
      }
    },
    idle: () => queue.idle(),
    close: () => queue.close(),
  };
}

function secretOf(url: string): string {
  const raw = url.slice(WEBHOOK_PATH.length).split("?")[0]!;
  try {
    return decodeURIComponent(raw);
  } catch {
    return "";
  }
}

/** What a notification asks for; null for one the service does not act on. */
function workOf(body: string): NotificationWork | null {
  const parsed = Notification.safeParse(parseJson(body));
  if (!parsed.success) return null;
  const { subject, message } = parsed.data;
  const ids = subject.endsWith("-item")
    ? [message?.item?.id].filter((id): id is string => Boolean(id))
    : subject.endsWith("-invoice")
      ? (message?.invoice?.items ?? []).map((line) => line.id)
      : null;
  if (ids === null) return null;
  return ids.length > 0 ? { accountingItemIds: [...new Set(ids)] } : "FULL_SYNC";
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The request body as text, or null when it is larger than a notification can be. */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function reply(res: ServerResponse, status: number, body: object) {
  res.writeHead(status, { "content-type": "application/json", ...(status === 405 ? { allow: "POST" } : {}) });
  res.end(JSON.stringify(body));
}
