import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { gqlData, type TestStore } from "./harness.ts";
import { eventually, sleep } from "./wait.ts";

/**
 * Helpers for the low-stock tests (SPEC section 9): thresholds through the admin API, the alerts
 * a store recorded, and lowStockAlertsAdded subscribers authenticated (or not) in connectionParams.
 */

type Server = { url: string };

export const ALERT_FIELDS = "id availableQuantity threshold at item { id name } variant { id sku lowStock }";

export async function setStoreThreshold(server: Server, store: TestStore, input: { lowStockThreshold?: number; clearLowStockThreshold?: boolean }) {
  const data = await gqlData(
    server.url,
    `mutation($input: UpdateInventorySettingsInput!) { updateInventorySettings(input: $input) {
      __typename ... on InventorySettings { lowStockThreshold } ... on OperationError { code message field } } }`,
    { input },
    store.token,
  );
  return data.updateInventorySettings;
}

export async function setVariantThreshold(
  server: Server,
  store: TestStore,
  input: { id: string; lowStockThreshold?: number; clearLowStockThreshold?: boolean },
) {
  const data = await gqlData(
    server.url,
    `mutation($input: UpdateVariantInput!) { updateVariant(input: $input) {
      __typename ... on Variant { id lowStockThreshold lowStock availableQuantity } ... on OperationError { code message field } } }`,
    { input },
    store.token,
  );
  return data.updateVariant;
}

/** The store's alerts, newest first, as the admin reads them. */
export async function alertsOf(server: Server, store: TestStore, first = 100) {
  const data = await gqlData(server.url, `query($first: Int!) { lowStockAlerts(first: $first) { edges { node { ${ALERT_FIELDS} } } } }`, { first }, store.token);
  return data.lowStockAlerts.edges.map((edge: { node: Alert }) => edge.node) as Alert[];
}

export type Alert = {
  id: string;
  availableQuantity: number;
  threshold: number;
  at: string;
  item: { id: string; name: string };
  variant: { id: string; sku: string | null; lowStock: boolean };
};

export type AlertSubscriber = {
  alerts: Alert[];
  errors: unknown[];
  /** how the socket closed, when it did */
  closed: { code: number; reason: string } | null;
  until(condition: (alerts: Alert[]) => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
};

/** A graphql-ws client subscribed to lowStockAlertsAdded(store), with `token` (if any) in connectionParams. */
export function subscribeToAlerts(httpUrl: string, slug: string, token?: string): AlertSubscriber {
  const subscriber: AlertSubscriber = {
    alerts: [],
    errors: [],
    closed: null,
    until: (condition, what, timeoutMs = 10_000) => eventually(() => condition(subscriber.alerts), what, timeoutMs),
    close: async () => {
      stop();
      await client.dispose();
    },
  };
  const client: Client = createClient({
    url: `${httpUrl.replace(/^http/, "ws")}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { closed: (event) => (subscriber.closed = { code: (event as { code: number }).code, reason: (event as { reason: string }).reason }) },
  });
  const stop = client.subscribe<{ lowStockAlertsAdded: Alert }>(
    { query: `subscription($store: String!) { lowStockAlertsAdded(store: $store) { ${ALERT_FIELDS} } }`, variables: { store: slug } },
    {
      next: (result) => {
        if (result.errors) subscriber.errors.push(...result.errors);
        else subscriber.alerts.push(result.data!.lowStockAlertsAdded);
      },
      error: (error) => subscriber.errors.push(...(Array.isArray(error) ? error : [error])),
      complete: () => {},
    },
  );
  return subscriber;
}

/**
 * A server says nothing when a subscription is in place. This makes `probe` cross into low (and
 * back) until the subscriber hears of it, then forgets what it heard, so that what it receives
 * next is what the test does next.
 */
export async function untilAlertsLive(subscriber: AlertSubscriber, probe: () => Promise<void>) {
  await eventually(
    async () => {
      await probe();
      await sleep(100);
      return subscriber.alerts.length > 0;
    },
    "the alert subscription to receive a first alert",
  );
  await sleep(200);
  subscriber.alerts.splice(0);
}
