/**
 * The storefront page's script (bundled by src/storefront/bundle.ts): shows the store's items
 * with their availability (and, for items with options, a button per variant with its own),
 * keeps them current from live StockUpdates without reloading, and places orders through the
 * public placeOrder mutation: "Realizar pedido" first holds the cart's units (reserveStock) and
 * counts down the time the hold lasts, "Confirmar pedido" places the order with the hold, and a
 * changed or emptied cart, the time running out or the page left gives the units back.
 */
import "./styles.css";
import {
  placeOrder, readItem, readReservationStatus, readVisibleItems, releaseReservation, reserveStock, subscribeToStock,
  type OrderLine, type PlaceOrderResult, type ReserveStockResult,
} from "./api.ts";
import { Catalog, type StockUpdate, type StorefrontItem } from "./catalog.ts";
import { heldUnits, holdEndsAt, keepHeldRows, timeLeftLabel, type Hold } from "./hold.ts";
import { orderPlacedMessage, shortageLine, TEXT, variantName } from "./labels.ts";
import {
  clearQuantities, mountStorefront, orderLines, renderItems, showBusy, showHold, showLiveStatus, showOrderMessage, type OrderMessage,
} from "./view.ts";

const slug = document.body.dataset.storeSlug!;
const page = mountStorefront(document.getElementById("storefront")!, document.getElementById("live-status")!);
const catalog = new Catalog();
/** The shopper's hold between "Realizar pedido" and "Confirmar pedido"; null without one. */
let hold: Hold | null = null;
/**
 * The lines whose rows stay orderable: the hold's (from its request on), and after it ends, until
 * its items are read again; with their items as they were when the hold was asked for.
 */
let shownHeld: OrderLine[] | null = null;
let heldSnapshots: StorefrontItem[] = [];
let countdown: ReturnType<typeof setInterval> | undefined;
/** A hold or an order on its way: one at a time, and the countdown does not end a hold meanwhile. */
let busy = false;
/** The cart changed since "Realizar pedido" was pressed: the hold that answers it is for another cart. */
let changedWhileHolding = false;
function render() {
  const held = heldUnits(shownHeld);
  renderItems(page.list, shownHeld ? keepHeldRows(catalog.items(), heldSnapshots, held) : catalog.items(), held);
}

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
  if (hold?.lines.some((line) => line.itemId === update.itemId)) checkHoldSoon();
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

// Enter in the form: "Realizar pedido", or while the cart is held, "Confirmar pedido"
page.form.addEventListener("submit", (event) => {
  event.preventDefault();
  void (hold ? confirmOrder() : checkout());
});
page.confirm.addEventListener("click", () => void confirmOrder());
page.emptyCart.addEventListener("click", () => {
  clearQuantities(page.list);
  showOrderMessage(page.result, hold ? { tone: "success", title: TEXT.cartEmptied } : null);
  endHold();
});
// A change to the cart (a quantity, a size picked) is another cart: the hold of the old one goes,
// and one on its way is given back as soon as it comes.
function cartChanged() {
  changedWhileHolding = true;
  endHold({ tone: "error", title: TEXT.holdReleasedByChange });
}
page.list.addEventListener("input", cartChanged);
page.list.addEventListener("click", (event) => {
  if ((event.target as Element).closest("button.variant")) cartChanged();
});
// Leaving the page gives the units back at once (best effort: the hold's expiry covers the rest).
addEventListener("pagehide", () => endHold(null, { leaving: true }));

/**
 * Idempotency keys for one kind of request: the last one sent whose answer never came (the
 * connection failed) is sent again with its key, so a retry cannot make it twice if the first
 * got through; any other request, or the same once answered, gets a new key.
 */
function retryKeys() {
  let unanswered: { request: string; key: string } | null = null;
  return {
    keyFor(request: object): string {
      const fingerprint = JSON.stringify(request);
      if (unanswered?.request !== fingerprint) unanswered = { request: fingerprint, key: crypto.randomUUID() };
      return unanswered.key;
    },
    answered() {
      unanswered = null;
    },
  };
}
const holdKeys = retryKeys();
const orderKeys = retryKeys();

/**
 * "Realizar pedido": holds the cart's units and shows the confirmation step with the time left.
 * A store that holds nothing for carts (RESERVATIONS_OFF) gets the order placed at once, as
 * before holds. The button stays disabled meanwhile, so one click makes one hold.
 */
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
  if (busy || hold) return;
  busy = true;
  showBusy(page.submit, TEXT.holding, TEXT.placeOrder);
  // the hold's live update may come before its answer: the rows stay orderable meanwhile
  shownHeld = lines;
  changedWhileHolding = false;
  heldSnapshots = [...new Set(lines.map((line) => line.itemId))].flatMap((itemId) => catalog.get(itemId) ?? []);
  try {
    const result = await reserveStock(slug, { lines, idempotencyKey: holdKeys.keyFor({ lines }) });
    holdKeys.answered();
    if (result.__typename === "ReservationGrant") {
      startHold(result, lines);
      if (changedWhileHolding) endHold({ tone: "error", title: TEXT.holdReleasedByChange });
    }
    else if (result.code === "RESERVATIONS_OFF") {
      showBusy(page.submit, TEXT.placingOrder, TEXT.placeOrder);
      await order(lines, undefined);
    } else showOrderMessage(page.result, describeHoldRefusal(result));
  } catch (error) {
    console.error("holding the cart", error);
    showOrderMessage(page.result, { tone: "error", title: TEXT.networkFailed });
  } finally {
    busy = false;
    showBusy(page.submit, null, TEXT.placeOrder);
    if (!hold && shownHeld === lines) {
      shownHeld = null;
      render();
    }
  }
}

function startHold(grant: Extract<ReserveStockResult, { __typename: "ReservationGrant" }>, lines: OrderLine[]) {
  const { reservation } = grant;
  hold = { ref: { id: reservation.id, token: grant.token }, lines, endsAt: holdEndsAt(reservation, Date.now()) };
  shownHeld = lines;
  render();
  showOrderMessage(page.result, null);
  clearInterval(countdown);
  countdown = setInterval(tick, 250);
  tick();
  page.confirm.focus();
}

/** The countdown: "Reservado por 9:41", and at 0:00 the hold is over. */
function tick() {
  if (!hold) return;
  const left = hold.endsAt - Date.now();
  if (left > 0) showHold(page, timeLeftLabel(left));
  else if (!busy) endHold({ tone: "error", title: TEXT.holdExpired });
}

/**
 * Ends the shopper's hold on the page and gives its units back (a released, expired or converted
 * hold answers as it is): a changed or emptied cart, the time up, the store releasing it, the page
 * left. `message`: what to tell the shopper (undefined: leave what is shown). The rows stay
 * orderable until the release answers with the items as they are now, so that a quantity typed
 * is not dropped on a sold-out state the release is about to undo.
 */
function endHold(message?: OrderMessage | null, options: { leaving?: boolean } = {}) {
  const ended = hold;
  if (!ended) return;
  hold = null;
  clearInterval(countdown);
  showHold(page, null);
  if (message !== undefined) showOrderMessage(page.result, message);
  const released = releaseReservation(ended.ref, { keepalive: options.leaving });
  if (options.leaving) return void released.catch(() => {});
  void released
    .then((items) => {
      const requestedAt = catalog.mark();
      for (const item of items ?? []) catalog.put(item.id, item, requestedAt);
    })
    .catch((error: unknown) => console.warn("releasing the hold", error))
    .finally(() => {
      if (shownHeld === ended.lines) shownHeld = null;
      render();
    });
}

/** "Confirmar pedido": places the order with the hold, which the order ends (CONVERTED). */
async function confirmOrder() {
  const current = hold;
  if (!current || busy) return;
  busy = true;
  showBusy(page.confirm, TEXT.placingOrder, TEXT.confirmOrder);
  try {
    await order(current.lines, current);
  } catch (error) {
    console.error("placing the order", error);
    showOrderMessage(page.result, { tone: "error", title: TEXT.networkFailed });
  } finally {
    busy = false;
    showBusy(page.confirm, null, TEXT.confirmOrder);
    tick();
  }
}

/** Places the order (with the hold, if any) and says how it went. */
async function order(lines: OrderLine[], withHold: Hold | undefined) {
  const customerName = page.customerName.value.trim() || undefined;
  const request = { lines, customerName, reservation: withHold?.ref };
  const result = await placeOrder(slug, { ...request, idempotencyKey: orderKeys.keyFor(request) });
  orderKeys.answered();
  if (result.__typename === "Order") {
    if (withHold && hold === withHold) {
      // the order took the held units and ended the hold: nothing to release
      hold = null;
      clearInterval(countdown);
      showHold(page, null);
    }
    shownHeld = null;
    clearQuantities(page.list);
    render();
    showOrderMessage(page.result, { tone: "success", title: orderPlacedMessage(result) });
  } else if (withHold && result.__typename === "InsufficientStockError") {
    // a live hold covers its lines: this one had ended (released by the store, say) and the units went
    endHold(describeRefusal(result, TEXT.orderFailed, TEXT.holdGoneShort));
  } else showOrderMessage(page.result, describeRefusal(result, TEXT.orderFailed));
}

/**
 * After a live update of an item the hold has: the hold may have ended without this page (the
 * merchant's "Liberar", its expiry by the service's clock); its status says, and the page follows.
 * A burst of updates (a flash sale) makes one read a second at most.
 */
let holdCheck: ReturnType<typeof setTimeout> | undefined;
function checkHoldSoon() {
  holdCheck ??= setTimeout(() => void checkHold().finally(() => (holdCheck = undefined)), 1_000);
}

async function checkHold() {
  const current = hold;
  if (!current) return;
  try {
    const status = await readReservationStatus(current.ref);
    if (hold !== current || status === "HELD") return;
    endHold({
      tone: "error",
      title: status === "RELEASED" ? TEXT.holdReleasedByStore : status === "EXPIRED" ? TEXT.holdExpired : TEXT.holdNotFound,
    });
  } catch (error) {
    console.warn("reading the hold", error);
  }
}

type Refusal = Exclude<PlaceOrderResult, { __typename: "Order" }>;

function describeRefusal(result: Refusal, failed: string, short: string = TEXT.insufficientStock): OrderMessage {
  if (result.__typename === "InsufficientStockError") {
    return {
      tone: "error",
      title: short,
      details: result.shortages.map((shortage) => shortageLine(shortageName(shortage), shortage.requested, shortage.available)),
    };
  }
  return { tone: "error", title: `${failed}: ${result.message} (${result.code})` };
}

/** A hold refused: as an order would be, or the shopper's holds cap (5 active in a store), the one INVALID_INPUT that names no field. */
function describeHoldRefusal(result: Refusal): OrderMessage {
  if (result.__typename === "OperationError" && result.code === "INVALID_INPUT" && result.field === null) return { tone: "error", title: TEXT.holdsLimit };
  return describeRefusal(result, TEXT.holdFailed);
}

/** "Bolso de cuero", or "Camiseta (M)" for a variant of an item with options. */
function shortageName(shortage: { itemId: string; variantId: string | null }): string {
  const item = catalog.get(shortage.itemId);
  if (!item) return shortage.itemId;
  const variant = item.options.length > 0 ? item.variants.find((candidate) => candidate.id === shortage.variantId) : undefined;
  return variant ? `${item.name} (${variantName(variant.options)})` : item.name;
}
