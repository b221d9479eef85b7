/**
 * What the console says when the service refuses something, in Spanish and in one place: a
 * sentence for every error code, and for the fields a merchant fills in a sentence that says the
 * rule. The service's own detail is English, written for developers: the console shows it only as
 * the message's title (a tooltip), never as text on the page.
 */
import type { ApiError, ConsoleErrorCode, ErrorCode } from "./api.ts";

/** Every code, in words: what the merchant reads when the console knows nothing more exact. */
export const ERROR_CODE: Record<ErrorCode | ConsoleErrorCode, string> = {
  INVALID_INPUT: "Revisa los datos: alguno no cumple las reglas de la tienda.",
  NOT_FOUND: "Ya no existe en esta tienda. Recarga la página.",
  INSUFFICIENT_STOCK: "No hay unidades suficientes.",
  STALE_QUANTITY: "La cantidad cambió mientras editabas. Revisa la nueva cantidad y guarda otra vez.",
  INVALID_STATUS_TRANSITION: "Ese cambio de estado no está permitido para este pedido.",
  INVENTORY_MANAGED_BY_ACCOUNTING: "El inventario se gestiona desde Alegra Contabilidad mientras la sincronización está activa.",
  ACCOUNTING_NOT_CONNECTED: "Conecta Alegra Contabilidad primero (Configuración, sección «Alegra Contabilidad»).",
  ACCOUNTING_UNAVAILABLE: "No se pudo contactar con Alegra Contabilidad o no aceptó la solicitud. Revisa los datos de la cuenta e inténtalo de nuevo.",
  IDEMPOTENCY_CONFLICT: "Esta operación ya se envió antes con otros datos.",
  RESERVATION_NOT_FOUND: "Esa reserva del carrito ya no existe.",
  RESERVATIONS_OFF: "La tienda no reserva unidades para los carritos.",
  NETWORK: "No se pudo conectar con el servidor. Inténtalo de nuevo.",
  INTERNAL: "El servidor no pudo completar la operación. Inténtalo de nuevo.",
};

/**
 * The rule of a field, for the codes where the field says more than the code: INVALID_INPUT at
 * "sku", NOT_FOUND at "warehouseId"... A field is named by its last part ("variants.0.sku": "sku").
 */
export const FIELD_MESSAGE: Partial<Record<ErrorCode, Record<string, string>>> = {
  INVALID_INPUT: {
    name: "Escribe un nombre de hasta 200 caracteres.",
    sku: "Revisa el SKU: otro producto o variante de la tienda ya lo usa, o tiene caracteres que no se admiten (letras, números, espacios y . _ - /, hasta 64).",
    price: "Escribe el precio en números, como 120000 o 19.90 (hasta 2 decimales).",
    quantity: "Escribe la cantidad en números enteros, como 5 o 0.",
    delta: "Escribe las unidades en números enteros, distintos de 0: positivos entran, negativos salen.",
    note: "La nota puede tener hasta 500 caracteres.",
    priority: "Escribe la prioridad como un número entero entre 0 y 1000000.",
    options: "Cada combinación de opciones se vende una sola vez: revisa que no se repita.",
    variants: "Elige al menos una combinación de opciones para vender.",
    itemId: "Este producto no registra cantidad disponible: activa «Registrar cantidad disponible» y guarda primero.",
    variantId: "Este producto no registra cantidad disponible: activa «Registrar cantidad disponible» y guarda primero.",
    toWarehouseId: "Elige dos bodegas distintas.",
    lowStockThreshold: "Escribe el umbral de stock bajo en números enteros, 0 o más; o déjalo vacío.",
    clearLowStockThreshold: "Escribe un umbral de stock bajo o déjalo vacío, no las dos cosas.",
    reservationMinutes: "Escribe los minutos de la reserva en números enteros, de 0 (sin reservas) a 120.",
    email: "Escribe el correo de tu cuenta de Alegra Contabilidad.",
    token: "Escribe el token de la API de tu cuenta de Alegra Contabilidad.",
    baseUrl: "Usa la dirección de la API de Alegra (https://api.alegra.com/api/v1) u otra que el servicio permita, sin ? ni #; o déjala vacía para usar la de Alegra.",
  },
  NOT_FOUND: {
    itemId: "Este producto ya no existe en la tienda.",
    variantId: "Esta variante ya no existe. Recarga la página.",
    warehouseId: "Esta bodega ya no existe. Recarga la página.",
    fromWarehouseId: "La bodega de origen ya no existe. Recarga la página.",
    toWarehouseId: "La bodega de destino ya no existe. Recarga la página.",
    orderId: "Este pedido ya no existe en la tienda.",
  },
  ACCOUNTING_UNAVAILABLE: {
    accountingSync: "La sincronización sigue desactivada: la primera sincronización con Alegra Contabilidad falló. Inténtalo de nuevo.",
  },
};

/** Words a screen knows better for some codes, given the record it was working on. */
export type Says = Partial<Record<ErrorCode | ConsoleErrorCode, string>>;

const fieldName = (field: string) => field.split(".").filter((part) => !/^\d+$/.test(part)).pop() ?? field;

/**
 * An error in the merchant's words: the console's own text where it has one, then what the
 * screen `says` for the code, then the rule of the field, then the code's sentence.
 */
export function errorText(error: ApiError, says: Says = {}): string {
  if (error.text) return error.text;
  const exact = says[error.code];
  if (exact) return exact;
  const field = error.field && error.code in FIELD_MESSAGE ? FIELD_MESSAGE[error.code as ErrorCode]?.[fieldName(error.field)] : undefined;
  return field ?? ERROR_CODE[error.code] ?? ERROR_CODE.INTERNAL;
}

/** The service's English detail, for a title attribute (a tooltip for whoever asks support); none for the console's own. */
export function errorDetail(error: ApiError): string | undefined {
  return error.text || !error.message ? undefined : error.message;
}

/** An error the console found itself, before asking the service: Spanish only. */
export const problem = (field: string, text: string): ApiError => ({ code: "INVALID_INPUT", message: "", field, text });

/**
 * A count or adjustment refused because the available units would go below `least`, while the
 * item does not sell without stock ("Vender sin Stock").
 */
export function belowZero(least: number): string {
  const committed = least > 0 ? ` (las unidades comprometidas en pedidos)` : "";
  return `La cantidad no puede quedar por debajo de ${least}${committed} mientras el producto no se venda sin stock: escribe ${least} o más, o activa «Vender sin Stock».`;
}

/** An adjustment that takes out more than the `available` units in `where`. */
export function tooManyOut(available: number, where: string): string {
  return `En ${where} hay ${available} unidades disponibles: saca ${Math.max(available, 0)} o menos, o activa «Vender sin Stock».`;
}
