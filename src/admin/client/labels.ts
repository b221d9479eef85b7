/**
 * What the console says, in Spanish and in the help article's own words ("Registrar cantidad
 * disponible", "Vender sin Stock", "Anulado", "Sincronizar ahora"...), in one place.
 */
import type { ApiError, Availability, OrderStatus } from "./api.ts";

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
};

const ERROR_CODE: Record<string, string> = {
  INVALID_INPUT: "Revisa este dato",
  NOT_FOUND: "No existe en esta tienda",
  INSUFFICIENT_STOCK: "No hay unidades suficientes",
  STALE_QUANTITY: "La cantidad cambió mientras editabas",
  INVALID_STATUS_TRANSITION: "Ese cambio de estado no está permitido",
  INVENTORY_MANAGED_BY_ACCOUNTING: "El inventario se gestiona desde Alegra Contabilidad mientras la sincronización está activa",
  ACCOUNTING_NOT_CONNECTED: "Conecta Alegra Contabilidad primero",
  ACCOUNTING_UNAVAILABLE: "No se pudo contactar con Alegra Contabilidad",
  IDEMPOTENCY_CONFLICT: "La misma operación ya está en curso",
  NETWORK: "No se pudo conectar con el servidor. Inténtalo de nuevo",
};

/** An API error in words: the merchant's explanation of its code, then the service's own detail. */
export function errorText(error: ApiError): string {
  const words = ERROR_CODE[error.code] ?? "No se pudo completar";
  return error.message && error.code !== "NETWORK" ? `${words}: ${error.message}` : `${words}.`;
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
