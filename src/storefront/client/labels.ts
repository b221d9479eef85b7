/**
 * What the storefront says to shoppers, in Spanish and in the help article's own terms
 * ("Agotado", "Vender sin Stock"...), kept in one place so wording changes touch one file.
 */
import type { Availability, ItemOption, OptionValue, StorefrontItem } from "./catalog.ts";

export const TEXT = {
  loading: "Cargando productos…",
  empty: "Esta tienda aún no tiene productos disponibles.",
  loadFailed: "No se pudieron cargar los productos. Reintentando…",
  live: "Inventario en vivo",
  connecting: "Conectando…",
  reconnecting: "Sin conexión en vivo: reintentando…",
  quantity: "Cantidad",
  service: "Servicio",
  customerName: "Tu nombre (opcional)",
  placeOrder: "Realizar pedido",
  placingOrder: "Enviando pedido…",
  noLines: "Elige la cantidad de al menos un producto.",
  pickVariant: "Elige una opción de cada producto que pides:",
  insufficientStock: "Stock insuficiente: no se realizó el pedido. Ajusta las cantidades:",
  orderFailed: "No se pudo realizar el pedido",
  networkFailed: "No se pudo conectar con la tienda. Inténtalo de nuevo.",
  emptyCart: "Vaciar carrito",
  cartEmptied: "Vaciaste el carrito y liberamos tu reserva.",
  holding: "Reservando…",
  holdTitle: "Tu pedido está reservado",
  heldFor: "Reservado por",
  holdHint: "Guardamos estas unidades para ti mientras confirmas. Si cambias el carrito, la reserva se libera.",
  confirmOrder: "Confirmar pedido",
  holdFailed: "No se pudo reservar el pedido",
  holdsLimit: "Ya tienes el máximo de reservas activas en esta tienda: confirma o vacía otro carrito antes de reservar este.",
  holdReleasedByChange: "Cambiaste el carrito y liberamos tu reserva. Pulsa «Realizar pedido» para reservarlo de nuevo.",
  holdExpired: "Tu reserva venció y las unidades volvieron a la tienda. Pulsa «Realizar pedido» para reservar de nuevo.",
  holdReleasedByStore: "La tienda liberó tu reserva. Pulsa «Realizar pedido» para reservar de nuevo.",
  holdNotFound: "Tu reserva ya no existe. Pulsa «Realizar pedido» para reservar de nuevo.",
  holdGoneShort: "Tu reserva ya había terminado y no queda stock suficiente: no se realizó el pedido. Ajusta las cantidades:",
} as const;

/** On a row of the shopper's own hold: "En tu reserva: 2". */
export function heldLabel(units: number): string {
  return `En tu reserva: ${units}`;
}

/**
 * The badge of an item or a variant: "Agotado", "Bajo pedido", or "Disponible" with the count
 * when it is tracked.
 */
export function availabilityLabel(item: Pick<StorefrontItem, "availability" | "availableQuantity">): string {
  switch (item.availability) {
    case "SOLD_OUT":
      return "Agotado";
    case "BACKORDER":
      return "Bajo pedido";
    case "HIDDEN":
      return "No disponible";
    case "IN_STOCK":
      return item.availableQuantity === null ? "Disponible" : `Disponible: ${item.availableQuantity}`;
  }
}

/** A longer explanation of the badge, shown as its tooltip. */
export function availabilityHint(availability: Availability): string {
  switch (availability) {
    case "SOLD_OUT":
      return "Se vendieron todas las unidades; vuelve cuando se reponga el inventario.";
    case "BACKORDER":
      return "Vender sin Stock: puedes pedirlo aunque no queden unidades; se entregará cuando se reponga.";
    case "HIDDEN":
      return "";
    case "IN_STOCK":
      return "Unidades disponibles para entrega.";
  }
}

/** A variant by its option values, in the item's order: "M", "M / Negro". */
export function variantName(options: readonly OptionValue[]): string {
  return options.map((option) => option.value).join(" / ");
}

/** What the shopper picks among an item's variants: "Talla", "Talla / Color". */
export function optionsName(options: readonly ItemOption[]): string {
  return options.map((option) => option.name).join(" / ");
}

/** An item with options that has a quantity but no variant picked: "Camiseta: elige Talla". */
export function unpickedLine(name: string, options: string): string {
  return `${name}: elige ${options}`;
}

/** One line of an InsufficientStockError: "Bolso de cuero: pediste 5, disponibles 3 (Agotado)". */
export function shortageLine(name: string, requested: number, available: number): string {
  return `${name}: pediste ${requested}, disponibles ${available}${available === 0 ? " (Agotado)" : ""}`;
}

export function orderPlacedMessage(order: { number: number; total: string }): string {
  return `Pedido n.º ${order.number} recibido. Total: ${formatPrice(order.total)}.`;
}

const priceFormat = new Intl.NumberFormat("es", { minimumFractionDigits: 0, maximumFractionDigits: 2 });

/** Prices come as decimal strings ("120000.00"); shown as "$ 120.000". */
export function formatPrice(price: string): string {
  const value = Number(price);
  return Number.isFinite(value) ? `$ ${priceFormat.format(value)}` : price;
}
