/**
 * The storefront's DOM. Everything a merchant or shopper typed (item names, messages) goes in
 * through textContent, never as HTML, so no item text can run script on the page.
 */
import type { Availability, StorefrontItem, StorefrontVariant } from "./catalog.ts";
import type { OrderLine } from "./api.ts";
import type { HeldUnits } from "./hold.ts";
import { availabilityHint, availabilityLabel, formatPrice, heldLabel, optionsName, TEXT, unpickedLine, variantName } from "./labels.ts";

const BADGE_CLASS: Record<Availability, string> = {
  IN_STOCK: "badge-in-stock",
  BACKORDER: "badge-backorder",
  SOLD_OUT: "badge-sold-out",
  HIDDEN: "badge-sold-out",
};

/** Orders accept at most this many units per line (SPEC section 2). */
const MAX_LINE_QUANTITY = 10_000;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/**
 * Makes the list show exactly `items`, in order: rows are kept by item id, so a quantity the
 * shopper typed survives live updates, and only what changed is touched. `held`: the units of the
 * shopper's own hold, whose rows stay orderable though everyone else now sees them sold out.
 */
export function renderItems(list: HTMLUListElement, items: readonly StorefrontItem[], held: HeldUnits = new Map()): void {
  const rows = new Map<string, HTMLLIElement>();
  for (const row of list.querySelectorAll<HTMLLIElement>("li[data-item-id]")) rows.set(row.dataset.itemId!, row);
  let previous: Element | null = null;
  for (const item of items) {
    const row = rows.get(item.id) ?? createItemRow(item);
    rows.delete(item.id);
    updateItemRow(row, item, held.get(item.id));
    const expectedPosition: Element | null = previous ? previous.nextElementSibling : list.firstElementChild;
    if (expectedPosition !== row) list.insertBefore(row, expectedPosition);
    previous = row;
  }
  for (const gone of rows.values()) gone.remove();
  list.querySelector(".empty")?.remove();
  if (items.length === 0) list.append(element("li", "empty", TEXT.empty));
}

function createItemRow(item: StorefrontItem): HTMLLIElement {
  const row = element("li", "item");
  row.dataset.itemId = item.id;
  const description = element("div", "item-description");
  const heldNote = element("p", "item-held");
  heldNote.hidden = true;
  description.append(element("h2", "item-name"), element("p", "item-price"), heldNote);
  if (item.type === "SERVICE") description.append(element("p", "item-type", TEXT.service));
  // the variant buttons of an item with options ("S", "M", "L"); empty and hidden otherwise
  const variants = element("div", "variants");
  variants.setAttribute("role", "group");
  variants.hidden = true;
  variants.append(element("span", "variants-label"));
  description.append(variants);

  const quantity = element("input", "item-quantity");
  quantity.type = "number";
  quantity.name = "quantity";
  quantity.min = "0";
  quantity.max = String(MAX_LINE_QUANTITY);
  quantity.step = "1";
  quantity.value = "0";
  quantity.inputMode = "numeric";
  const label = element("label", "item-quantity-label", `${TEXT.quantity} `);
  label.append(quantity);

  row.append(description, element("span", "badge"), label);
  return row;
}

function updateItemRow(row: HTMLLIElement, item: StorefrontItem, held: { units: number; variantIds: Set<string> } | undefined): void {
  row.dataset.availability = item.availability;
  row.dataset.version = String(item.version);
  row.dataset.price = item.price;
  row.querySelector(".item-name")!.textContent = item.name;
  updateVariantButtons(row, item, held?.variantIds);
  const heldNote = row.querySelector<HTMLElement>(".item-held")!;
  heldNote.hidden = !held;
  row.toggleAttribute("data-held", Boolean(held));
  heldNote.textContent = held ? heldLabel(held.units) : "";
  const badge = row.querySelector<HTMLElement>(".badge")!;
  badge.textContent = availabilityLabel(item);
  badge.className = `badge ${BADGE_CLASS[item.availability]}`;
  badge.title = availabilityHint(item.availability);
  const quantity = row.querySelector<HTMLInputElement>("input.item-quantity")!;
  quantity.setAttribute("aria-label", `${TEXT.quantity}: ${item.name}`);
  // Sold-out items cannot be ordered; what was typed for them is dropped. Unless the units are
  // the shopper's own hold: then the item is sold out to everyone else, for this very cart.
  quantity.disabled = item.availability === "SOLD_OUT" && !held;
  if (quantity.disabled) quantity.value = "0";
}

/**
 * Makes an item's variant buttons show its variants (HIDDEN ones never reach here), each with
 * its own badge; a sold-out one cannot be picked, and a pick it loses is dropped.
 */
function updateVariantButtons(row: HTMLLIElement, item: StorefrontItem, heldVariants: ReadonlySet<string> | undefined): void {
  const group = row.querySelector<HTMLElement>(".variants")!;
  const buttons = new Map<string, HTMLButtonElement>();
  for (const button of group.querySelectorAll<HTMLButtonElement>("button.variant")) buttons.set(button.dataset.variantId!, button);
  const offered = item.options.length > 0 ? item.variants : [];
  group.hidden = item.options.length === 0;
  const label = optionsName(item.options);
  group.setAttribute("aria-label", label);
  group.querySelector(".variants-label")!.textContent = label;
  let previous: Element = group.querySelector(".variants-label")!;
  for (const variant of offered) {
    const button = buttons.get(variant.id) ?? createVariantButton(variant);
    buttons.delete(variant.id);
    updateVariantButton(button, variant, item.name, heldVariants?.has(variant.id) ?? false);
    if (previous.nextElementSibling !== button) previous.after(button);
    previous = button;
  }
  for (const gone of buttons.values()) gone.remove();
  showPick(row);
}

function createVariantButton(variant: StorefrontVariant): HTMLButtonElement {
  const button = element("button", "variant");
  button.type = "button";
  button.dataset.variantId = variant.id;
  button.append(element("span", "variant-name"), element("span", "variant-badge"));
  return button;
}

function updateVariantButton(button: HTMLButtonElement, variant: StorefrontVariant, itemName: string, held: boolean): void {
  const name = variantName(variant.options);
  const badge = availabilityLabel(variant);
  button.dataset.availability = variant.availability;
  button.dataset.price = variant.price;
  button.disabled = variant.availability === "SOLD_OUT" && !held;
  button.title = availabilityHint(variant.availability);
  button.setAttribute("aria-label", `${itemName} ${name}: ${badge}`);
  button.querySelector(".variant-name")!.textContent = name;
  const badgeNode = button.querySelector<HTMLElement>(".variant-badge")!;
  badgeNode.textContent = badge;
  badgeNode.className = `variant-badge ${BADGE_CLASS[variant.availability]}`;
}

/** Picks a variant of its item for the order (a click on one of its buttons). */
function pickVariant(button: HTMLButtonElement): void {
  const row = button.closest<HTMLLIElement>("li[data-item-id]");
  if (!row || button.disabled) return;
  row.dataset.variantId = button.dataset.variantId!;
  showPick(row);
}

/** Marks the picked variant's button pressed, drops a pick no longer offered, shows its price. */
function showPick(row: HTMLLIElement): void {
  let picked: HTMLButtonElement | null = null;
  for (const button of row.querySelectorAll<HTMLButtonElement>("button.variant")) {
    const isPicked = button.dataset.variantId === row.dataset.variantId && !button.disabled;
    button.setAttribute("aria-pressed", String(isPicked));
    if (isPicked) picked = button;
  }
  if (!picked) delete row.dataset.variantId;
  row.querySelector(".item-price")!.textContent = formatPrice(picked?.dataset.price ?? row.dataset.price!);
}

/**
 * The order lines the shopper asked for: every shown item with a quantity above zero, with the
 * variant picked for an item that has options; `unpicked` names those where none was.
 */
export function orderLines(list: HTMLUListElement): { lines: OrderLine[]; unpicked: string[] } {
  const lines: OrderLine[] = [];
  const unpicked: string[] = [];
  for (const row of list.querySelectorAll<HTMLLIElement>("li[data-item-id]")) {
    const input = row.querySelector<HTMLInputElement>("input.item-quantity")!;
    const quantity = Math.trunc(Number(input.value));
    if (input.disabled || !Number.isFinite(quantity) || quantity <= 0) continue;
    const itemId = row.dataset.itemId!;
    const variants = row.querySelector<HTMLElement>(".variants")!;
    if (variants.hidden) lines.push({ itemId, quantity });
    else if (row.dataset.variantId) lines.push({ itemId, variantId: row.dataset.variantId, quantity });
    else unpicked.push(unpickedLine(row.querySelector(".item-name")!.textContent!, variants.getAttribute("aria-label")!));
  }
  return { lines, unpicked };
}

export function clearQuantities(list: HTMLUListElement): void {
  for (const input of list.querySelectorAll<HTMLInputElement>("input.item-quantity")) input.value = "0";
}

export type OrderMessage = { tone: "success" | "error"; title: string; details?: readonly string[] };

/** Shows the outcome of the last checkout; errors are announced to screen readers at once. */
export function showOrderMessage(box: HTMLElement, message: OrderMessage | null): void {
  box.replaceChildren();
  box.className = message ? `order-result order-result-${message.tone}` : "order-result";
  if (!message) return;
  box.setAttribute("role", message.tone === "error" ? "alert" : "status");
  box.append(element("p", "order-result-title", message.title));
  if (message.details?.length) {
    const list = element("ul", "order-result-details");
    for (const detail of message.details) list.append(element("li", undefined, detail));
    box.append(list);
  }
}

export function showLiveStatus(node: HTMLElement, state: "connecting" | "live" | "reconnecting"): void {
  node.dataset.state = state;
  node.textContent = state === "live" ? TEXT.live : state === "connecting" ? TEXT.connecting : TEXT.reconnecting;
}

export type StorefrontElements = {
  list: HTMLUListElement;
  form: HTMLFormElement;
  customerName: HTMLInputElement;
  submit: HTMLButtonElement;
  /** "Vaciar carrito": every quantity back to 0 (and the hold, if any, released) */
  emptyCart: HTMLButtonElement;
  /** the confirmation step while the cart is held: the time left and "Confirmar pedido" */
  hold: HTMLElement;
  holdTime: HTMLElement;
  confirm: HTMLButtonElement;
  result: HTMLElement;
  liveStatus: HTMLElement;
};

/**
 * Shows the confirmation step with the time the hold has left ("Reservado por 9:41"), in place
 * of "Realizar pedido"; null: no hold, "Realizar pedido" again.
 */
export function showHold(page: StorefrontElements, timeLeft: string | null): void {
  page.hold.hidden = timeLeft === null;
  page.submit.hidden = timeLeft !== null;
  page.holdTime.textContent = timeLeft === null ? "" : `${TEXT.heldFor} ${timeLeft}`;
}

/** A button doing its work: disabled, saying what it does ("Enviando pedido…"), or back as it was. */
export function showBusy(button: HTMLButtonElement, busyText: string | null, idleText: string): void {
  button.disabled = busyText !== null;
  button.textContent = busyText ?? idleText;
}

/** Builds the catalog-and-checkout form inside `root` (the server's page has only the store's name). */
export function mountStorefront(root: HTMLElement, liveStatus: HTMLElement): StorefrontElements {
  const form = element("form", "order-form");
  form.noValidate = true;
  const list = element("ul", "items");
  list.setAttribute("aria-live", "polite");
  list.append(element("li", "empty", TEXT.loading));

  const customerName = element("input", "customer-name");
  customerName.name = "customerName";
  customerName.maxLength = 200;
  customerName.autocomplete = "name";
  const nameLabel = element("label", "customer-name-label", `${TEXT.customerName} `);
  nameLabel.append(customerName);
  const submit = element("button", "place-order", TEXT.placeOrder);
  submit.type = "submit";
  const emptyCart = element("button", "empty-cart", TEXT.emptyCart);
  emptyCart.type = "button";
  const actions = element("div", "checkout-actions");
  actions.append(emptyCart, submit);
  const checkout = element("div", "checkout");
  checkout.append(nameLabel, actions);

  // the countdown is a timer (not read out each second); the step's arrival is announced by its heading
  const hold = element("section", "hold");
  hold.hidden = true;
  hold.setAttribute("aria-live", "polite");
  const holdTime = element("p", "hold-time");
  holdTime.setAttribute("role", "timer");
  holdTime.setAttribute("aria-live", "off");
  const confirm = element("button", "confirm-order", TEXT.confirmOrder);
  confirm.type = "button";
  hold.append(element("h2", "hold-title", TEXT.holdTitle), holdTime, element("p", "hold-hint", TEXT.holdHint), confirm);

  const result = element("div", "order-result");
  result.setAttribute("aria-live", "polite");
  form.append(list, checkout, hold, result);
  list.addEventListener("click", (event) => {
    const button = (event.target as Element).closest<HTMLButtonElement>("button.variant");
    if (button) pickVariant(button);
  });
  root.replaceChildren(form);
  showLiveStatus(liveStatus, "connecting");
  return { list, form, customerName, submit, emptyCart, hold, holdTime, confirm, result, liveStatus };
}
