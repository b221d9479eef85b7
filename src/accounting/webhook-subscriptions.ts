import type { AccountingLink } from "./connection.ts";

/** The notifications the store listens to (names beyond new-item and new-invoice are assumed). */
export const NOTIFICATION_EVENTS = ["new-invoice", "edit-invoice", "delete-invoice", "new-item", "edit-item", "delete-item"];

/**
 * Subscribes the store's webhook URL to every event it lacks, so switching sync on twice never
 * registers a notification twice. Subscriptions to an older URL of the same store (PUBLIC_URL
 * changed) are recognised by the store's secret at the end of the URL and left to `unsubscribe`.
 */
export async function subscribeToNotifications(link: AccountingLink): Promise<void> {
  const existing = await link.api.webhookSubscriptions();
  const subscribed = new Set(existing.filter((s) => s.url === link.webhookUrl).map((s) => s.event));
  for (const event of NOTIFICATION_EVENTS) {
    if (!subscribed.has(event)) await link.api.subscribe(link.webhookUrl, event);
  }
}

/** Removes every subscription that delivers to this store's webhook URL, whatever its host. */
export async function unsubscribeFromNotifications(link: AccountingLink): Promise<void> {
  const existing = await link.api.webhookSubscriptions();
  for (const subscription of existing.filter((s) => s.url.endsWith(`/${link.webhookSecret}`))) {
    await link.api.unsubscribe(subscription.id);
  }
}
