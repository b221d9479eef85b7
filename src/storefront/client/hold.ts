/**
 * The shopper's own cart hold (SPEC section 9), as the page keeps it between "Realizar pedido"
 * and "Confirmar pedido": what it holds and how long it lasts. Pure data: no DOM, no network.
 */
import type { OrderLine, ReservationRef } from "./api.ts";
import { byName, type StorefrontItem } from "./catalog.ts";

export type Hold = {
  ref: ReservationRef;
  /** the lines held, as they were sent: the order placed with the hold sends the same */
  lines: OrderLine[];
  /** when it ends, by this page's clock (Date.now()) */
  endsAt: number;
};

/**
 * When the hold ends by this page's clock: its length as the service measured it (expiresAt -
 * createdAt, both the service's clock) from the moment the answer came, so that a shopper's
 * clock set wrong neither shortens nor stretches it. The answer's trip makes the page's end a
 * little later than the service's; confirming in that moment places an order without the hold.
 */
export function holdEndsAt(reservation: { expiresAt: string; createdAt: string }, receivedAt: number): number {
  const length = Date.parse(reservation.expiresAt) - Date.parse(reservation.createdAt);
  return receivedAt + Math.max(0, length);
}

/** What is left of a hold, as the page counts it down: "9:41", "0:05"; never below "0:00". */
export function timeLeftLabel(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/**
 * The units a hold keeps, by item: in all (`units`) and which variants. The page shows them on
 * their rows ("En tu reserva: 2") and keeps those rows orderable even while everyone else sees
 * them "Agotado" because of this very hold.
 */
export type HeldUnits = Map<string, { units: number; variantIds: Set<string> }>;

export function heldUnits(lines: readonly OrderLine[] | null): HeldUnits {
  const held: HeldUnits = new Map();
  for (const line of lines ?? []) {
    const entry = held.get(line.itemId) ?? { units: 0, variantIds: new Set<string>() };
    entry.units += line.quantity;
    if (line.variantId) entry.variantIds.add(line.variantId);
    held.set(line.itemId, entry);
  }
  return held;
}

/**
 * The items to show while the shopper holds some: as the catalog has them, plus the held ones a
 * store that hides what sells out ("Ocultar producto") took off the list because this very hold
 * took their last units (the item, or a variant of it), as they were when the hold was asked for,
 * shown sold out. Without them the holder would see their own cart vanish from the page.
 */
export function keepHeldRows(items: readonly StorefrontItem[], snapshots: readonly StorefrontItem[], held: HeldUnits): StorefrontItem[] {
  if (snapshots.length === 0) return [...items];
  const shown = new Map(items.map((item) => [item.id, item]));
  const rows = items.map((item) => {
    const snapshot = snapshots.find((candidate) => candidate.id === item.id);
    const variantIds = held.get(item.id)?.variantIds;
    if (!snapshot || !variantIds) return item;
    const missing = snapshot.variants.filter((variant) => variantIds.has(variant.id) && !item.variants.some((mine) => mine.id === variant.id));
    if (missing.length === 0) return item;
    const order = (id: string) => snapshot.variants.findIndex((variant) => variant.id === id);
    const variants = [...item.variants, ...missing.map(soldOut)].sort((a, b) => order(a.id) - order(b.id));
    return { ...item, variants };
  });
  for (const snapshot of snapshots) {
    if (shown.has(snapshot.id) || !held.has(snapshot.id)) continue;
    const variantIds = held.get(snapshot.id)!.variantIds;
    const row = soldOut({ ...snapshot, variants: snapshot.variants.map((variant) => (variantIds.has(variant.id) ? soldOut(variant) : variant)) });
    rows.push(row);
    shown.set(row.id, row);
  }
  return rows.sort(byName);
}

function soldOut<T extends { availability: StorefrontItem["availability"]; availableQuantity: number | null }>(counts: T): T {
  return { ...counts, availability: "SOLD_OUT", availableQuantity: counts.availableQuantity === null ? null : 0 };
}
