/**
 * What the console says, in Spanish and in the help article's own words ("Registrar cantidad
 * disponible", "Vender sin Stock", "Anulado", "Sincronizar ahora"...), in one place; what it says
 * of a refused operation is in messages.ts.
 */
import type { Availability, Movement, OrderStatus } from "./api.ts";

export const AVAILABILITY: Record<Availability, string> = {
  IN_STOCK: "Disponible",
  BACKORDER: "Bajo pedido",
  SOLD_OUT: "Agotado",
  HIDDEN: "Oculto",
};

export const ORDER_STATUS: Record<OrderStatus, string> = {
  PENDING: "Pendiente",
  CONFIRMED: "Confirmado",
  SHIPPED: "Enviado",
  DELIVERED: "Entregado",
  CANCELLED: "Anulado",
};

/** Why a count changed, and who changed it (the admin, an order, the accounting system). */
export const MOVEMENT_REASON: Record<string, { why: string; who: string }> = {
  INITIAL_COUNT: { why: "Cantidad inicial", who: "Administrador" },
  MANUAL_SET: { why: "Cantidad registrada", who: "Administrador" },
  MANUAL_ADJUSTMENT: { why: "Ajuste manual", who: "Administrador" },
  ORDER_PLACED: { why: "Pedido realizado", who: "Cliente" },
  ORDER_CANCELLED: { why: "Pedido anulado", who: "Administrador" },
  ORDER_INVOICED: { why: "Pedido facturado", who: "Alegra Contabilidad" },
  ACCOUNTING_SYNC: { why: "Sincronización", who: "Alegra Contabilidad" },
  SYNC_DISABLED: { why: "Sincronización desactivada", who: "Administrador" },
  TRANSFER: { why: "Traslado entre bodegas", who: "Administrador" },
};

export const SYNC_TRIGGER: Record<string, string> = {
  MANUAL: "Sincronizar ahora",
  SYNC_ENABLED: "Al activar la sincronización",
  SCHEDULED: "Conciliación periódica",
  WEBHOOK: "Notificación de Alegra",
};

export const SYNC_STATUS: Record<string, string> = { RUNNING: "En curso", SUCCEEDED: "Completada", FAILED: "Fallida" };

export const UNMATCHED_REASON: Record<string, string> = {
  NO_SKU: "El producto no tiene SKU",
  NO_ACCOUNTING_ITEM: "Ningún ítem de Alegra Contabilidad tiene esta referencia",
  DUPLICATE_REFERENCE: "Varios ítems de Alegra Contabilidad tienen esta referencia",
  ALREADY_MATCHED: "El ítem de Alegra Contabilidad ya está enlazado con otro producto",
  PAST_LIMIT: "Sus cantidades en Alegra Contabilidad pasarían el límite de 1.000.000.000 unidades: se dejaron como estaban",
};

/** A cart hold's status, in the console's words. */
export const RESERVATION_STATUS: Record<"HELD" | "CONVERTED" | "RELEASED" | "EXPIRED", string> = {
  HELD: "activa",
  CONVERTED: "se convirtió en pedido",
  RELEASED: "liberada",
  EXPIRED: "venció",
};

/** What is left of a hold: "9:41", "0:05"; never below "0:00". */
export function formatTimeLeft(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** "Talla: M / Color: Negro"; "" for the default variant of an item without options. */
export function variantLabel(options: { name: string; value: string }[]): string {
  return options.map((option) => `${option.name}: ${option.value}`).join(" / ");
}

const money = new Intl.NumberFormat("es-CO", { style: "currency", currency: "COP", maximumFractionDigits: 2 });
export const formatMoney = (decimal: string) => money.format(Number(decimal));

const dateTime = new Intl.DateTimeFormat("es-CO", { dateStyle: "medium", timeStyle: "short" });
export const formatDate = (iso: string) => dateTime.format(new Date(iso));

/** A count that is null when inventory is not tracked. */
export const formatCount = (count: number | null | undefined) => (count == null ? "—" : String(count));

/**
 * A movement's note in words. A note the service wrote for its own movements ("sync <run id>",
 * "accounting notification", "invoice FV-12") is said by what happened and when; the merchant's
 * own notes (counts, adjustments, transfers) are theirs, shown as written.
 */
export function movementNote(movement: Pick<Movement, "reason" | "note" | "createdAt">): string {
  const note = movement.note ?? "";
  if (movement.reason === "ACCOUNTING_SYNC") {
    const what = note === "accounting notification" ? "Notificación de Alegra" : "Sincronización con Alegra";
    return `${what}, ${formatDate(movement.createdAt)}`;
  }
  if (movement.reason === "ORDER_INVOICED") {
    const invoice = /^invoice (.+)$/.exec(note)?.[1];
    return invoice ? `Factura ${invoice}` : "Factura emitida en Alegra Contabilidad";
  }
  return note;
}
