/**
 * The storefront page's script (bundled by src/storefront/bundle.ts): shows the store's items
 * with their availability (and, for items with options, a button per variant with its own),
 * keeps them current from live StockUpdates without reloading, and places orders through the
 * public placeOrder mutation.
 */
import "./styles.css";
import { placeOrder, readItem, readVisibleItems, subscribeToStock, type PlaceOrderResult } from "./api.ts";
import { Catalog, type StockUpdate } from "./catalog.ts";
import { orderPlacedMessage, shortageLine, TEXT, variantName } from "./labels.ts";
import { clearQuantities, mountStorefront, orderLines, renderItems, showLiveStatus, showOrderMessage, type OrderMessage } from "./view.ts";

const slug = document.body.dataset.storeSlug!;
const page = mountStorefront(document.getElementById("storefront")!, document.getElementById("live-status")!);
const catalog = new Catalog();
const render = () => renderItems(page.list, catalog.items());

const MAX_RETRY_DELAY_MS = 30_000;
let retryDelayMs = 1_000;
let retry: ReturnType<typeof setTimeout> | undefined;
let showingLoadFailure = false;
// One full read at a time; `refreshAgain` when another was asked for while it ran.
let refreshing = false;
let refreshAgain = false;

/**
 * Re-reads the whole visible list: on load, whenever live updates (re)start, when versions show
 * that updates were missed (then others may have been missed too, for items whose later updates
 * would never reveal it), and when the page is shown again. A failed read (the service
 * restarting, say) is tried again later, waiting longer each time.
 */
async function refreshAll() {
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  refreshing = true;
  clearTimeout(retry);
  const requestedAt = catalog.mark();
  try {
    catalog.replaceAll(await readVisibleItems(slug), requestedAt);
    retryDelayMs = 1_000;
    render();
    if (showingLoadFailure) showOrderMessage(page.result, null);
    showingLoadFailure = false;
  } catch (error) {
    console.warn("reading the items failed; trying again", error);
    if (catalog.items().length === 0) {
      showOrderMessage(page.result, { tone: "error", title: TEXT.loadFailed });
      showingLoadFailure = true;
    }
    retry = setTimeout(() => void refreshAll(), retryDelayMs);
    retryDelayMs = Math.min(retryDelayMs * 2, MAX_RETRY_DELAY_MS);
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      void refreshAll();
    }
  }
}

// Items being re-read; `true` when another update asked for a new read while one was in flight.
const readsInFlight = new Map<string, boolean>();

/**
 * Reads an item that became visible again, or one of whose variants did: the page needs its
 * name and price, or the variant's options, to show it.
 */
async function refreshItem(itemId: string) {
  if (readsInFlight.has(itemId)) {
    readsInFlight.set(itemId, true);
    return;
  }
  readsInFlight.set(itemId, false);
  try {
    const requestedAt = catalog.mark();
    if (catalog.put(itemId, await readItem(slug, itemId), requestedAt)) render();
  } catch (error) {
    console.error("reading an item", error);
  } finally {
    const again = readsInFlight.get(itemId);
    readsInFlight.delete(itemId);
    if (again) void refreshItem(itemId);
  }
}

function applyUpdate(update: StockUpdate) {
  const outcome = catalog.applyUpdate(update);
  if (outcome.kind === "changed" || outcome.kind === "removed") render();
  if (outcome.kind === "fetch") void refreshItem(update.itemId);
  if (outcome.kind === "changed" && outcome.missedSome) void refreshAll();
  else if (outcome.kind === "changed" && outcome.unknownVariant) void refreshItem(update.itemId);
}

subscribeToStock(slug, {
  onUpdate: applyUpdate,
  onConnected: () => {
    showLiveStatus(page.liveStatus, "live");
    // Whatever changed before this (re)connection was not pushed to the page.
    void refreshAll();
  },
  onDisconnected: () => showLiveStatus(page.liveStatus, "reconnecting"),
});
void refreshAll();
// A page left in the background may have been throttled or lost its socket unnoticed.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") void refreshAll();
});

page.form.addEventListener("submit", (event) => {
  event.preventDefault();
  void checkout();
});

// The last order sent whose answer never came (the connection failed). Sending the same order
// again reuses its idempotency key, so a retry cannot place it twice if the first one got through.
let unanswered: { request: string; key: string } | null = null;

function idempotencyKeyFor(request: object): string {
  const fingerprint = JSON.stringify(request);
  if (unanswered?.request !== fingerprint) unanswered = { request: fingerprint, key: crypto.randomUUID() };
  return unanswered.key;
}

/** Sends the order; the button stays disabled meanwhile so one click makes one order. */
async function checkout() {
  const { lines, unpicked } = orderLines(page.list);
  if (unpicked.length > 0) {
    showOrderMessage(page.result, { tone: "error", title: TEXT.pickVariant, details: unpicked });
    return;
  }
  if (lines.length === 0) {
    showOrderMessage(page.result, { tone: "error", title: TEXT.noLines });
    return;
  }
  const request = { lines, customerName: page.customerName.value.trim() || undefined };
  page.submit.disabled = true;
  page.submit.textContent = TEXT.placingOrder;
  try {
    const result = await placeOrder(slug, { ...request, idempotencyKey: idempotencyKeyFor(request) });
    unanswered = null;
    showOrderMessage(page.result, describeOrderResult(result));
    if (result.__typename === "Order") clearQuantities(page.list);
  } catch (error) {
    console.error("placing the order", error);
    showOrderMessage(page.result, { tone: "error", title: TEXT.networkFailed });
  } finally {
    page.submit.disabled = false;
    page.submit.textContent = TEXT.placeOrder;
  }
}

function describeOrderResult(result: PlaceOrderResult): OrderMessage {
  switch (result.__typename) {
    case "Order":
      return { tone: "success", title: orderPlacedMessage(result) };
    case "InsufficientStockError":
      return {
        tone: "error",
        title: TEXT.insufficientStock,
        details: result.shortages.map((shortage) => shortageLine(shortageName(shortage), shortage.requested, shortage.available)),
      };
    case "OperationError":
      return { tone: "error", title: `${TEXT.orderFailed}: ${result.message} (${result.code})` };
  }
}

/** "Bolso de cuero", or "Camiseta (M)" for a variant of an item with options. */
function shortageName(shortage: { itemId: string; variantId: string | null }): string {
  const item = catalog.get(shortage.itemId);
  if (!item) return shortage.itemId;
  const variant = item.options.length > 0 ? item.variants.find((candidate) => candidate.id === shortage.variantId) : undefined;
  return variant ? `${item.name} (${variantName(variant.options)})` : item.name;
}
