import type { ItemType } from "../generated/prisma/enums.ts";
import { raw, sql, type Sql } from "../db/sql.ts";

/**
 * Availability of an item (SPEC section 1) is decided in one place: the SQL function
 * item_availability() (prisma/functions/item_availability.sql). Every statement that changes
 * stock, an item's stock settings or the store's out-of-stock behaviour stores its result in
 * items.availability and variants.availability (stock_change(), and refreshVariants through
 * availabilitySql below), so listings can leave HIDDEN items out in SQL and each change can tell
 * whether availability moved.
 */

/**
 * Whether an item's stock is counted: a PRODUCT with "Registrar cantidad disponible" on. A service
 * never is; an untracked item is always IN_STOCK and orders never touch its quantity.
 */
export const tracksInventory = (item: { type: ItemType; trackInventory: boolean }) =>
  item.type === "PRODUCT" && item.trackInventory;

/**
 * The availability expression for an `items` row aliased `i` joined to its `stores` row `s`;
 * each part defaults to the row's own column, or is the SQL of its value after the change.
 */
export function availabilitySql(
  after: { quantity?: Sql; committed?: Sql; reserved?: Sql; sellWithoutStock?: Sql; trackInventory?: Sql } = {},
): Sql {
  const {
    quantity = raw("i.quantity"),
    committed = raw("i.committed_quantity"),
    reserved = raw("i.reserved_quantity"),
    sellWithoutStock = raw("i.sell_without_stock"),
    trackInventory = raw("i.track_inventory"),
  } = after;
  // available = quantity - committed - reserved (SPEC section 9): what carts hold is no one else's
  return sql`item_availability(i.type, ${trackInventory}, ${quantity} - ${committed} - ${reserved}, ${sellWithoutStock}, s.out_of_stock_behavior)`;
}
