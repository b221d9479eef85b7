/**
 * The shopper's own cart hold (SPEC section 9), as the page keeps it between "Realizar pedido"
 * and "Confirmar pedido": what it holds and how long it lasts. Pure data: no DOM, no network.
 */
import type { OrderLine, ReservationRef } from "./api.ts";

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
