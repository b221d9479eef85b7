/**
 * The storefront's DOM. Everything a merchant or shopper typed (item names, messages) goes in
 * through textContent, never as HTML, so no item text can run script on the page.
 */
import type { Availability, StorefrontItem } from "./catalog.ts";
import { availabilityHint, availabilityLabel, formatPrice, TEXT } from "./labels.ts";

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
 * shopper typed survives live updates, and only what changed is touched.
 */
export function renderItems(list: HTMLUListElement, items: readonly StorefrontItem[]): void {
  const rows = new Map<string, HTMLLIElement>();
  for (const row of list.querySelectorAll<HTMLLIElement>("li[data-item-id]")) rows.set(row.dataset.itemId!, row);
  let previous: Element | null = null;
  for (const item of items) {
    const row = rows.get(item.id) ?? createItemRow(item);
    rows.delete(item.id);
    updateItemRow(row, item);
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
  description.append(element("h2", "item-name"), element("p", "item-price"));
  if (item.type === "SERVICE") description.append(element("p", "item-type", TEXT.service));

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

function updateItemRow(row: HTMLLIElement, item: StorefrontItem): void {
  row.dataset.availability = item.availability;
  row.dataset.version = String(item.version);
  row.querySelector(".item-name")!.textContent = item.name;
  row.querySelector(".item-price")!.textContent = formatPrice(item.price);
  const badge = row.querySelector<HTMLElement>(".badge")!;
  badge.textContent = availabilityLabel(item);
  badge.className = `badge ${BADGE_CLASS[item.availability]}`;
  badge.title = availabilityHint(item.availability);
  const quantity = row.querySelector<HTMLInputElement>("input.item-quantity")!;
  quantity.setAttribute("aria-label", `${TEXT.quantity}: ${item.name}`);
  // Sold-out items cannot be ordered; what was typed for them is dropped.
  quantity.disabled = item.availability === "SOLD_OUT";
  if (quantity.disabled) quantity.value = "0";
}

/** The order lines the shopper asked for: every shown item with a quantity above zero. */
export function orderLines(list: HTMLUListElement): { itemId: string; quantity: number }[] {
  const lines: { itemId: string; quantity: number }[] = [];
  for (const row of list.querySelectorAll<HTMLLIElement>("li[data-item-id]")) {
    const input = row.querySelector<HTMLInputElement>("input.item-quantity")!;
    const quantity = Math.trunc(Number(input.value));
    if (!input.disabled && Number.isFinite(quantity) && quantity > 0) lines.push({ itemId: row.dataset.itemId!, quantity });
  }
  return lines;
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
  result: HTMLElement;
  liveStatus: HTMLElement;
};

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
  const checkout = element("div", "checkout");
  checkout.append(nameLabel, submit);

  const result = element("div", "order-result");
  result.setAttribute("aria-live", "polite");
  form.append(list, checkout, result);
  root.replaceChildren(form);
  showLiveStatus(liveStatus, "connecting");
  return { list, form, customerName, submit, result, liveStatus };
}
