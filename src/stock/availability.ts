/**
 * Availability of an item (SPEC section 1) is decided in one place: the SQL function
 * item_availability() created by the first migration. Every statement that changes stock, an
 * item's stock settings or the store's out-of-stock behaviour stores its result in
 * items.availability through ITEM_AVAILABILITY_SQL below, so listings can leave HIDDEN items out
 * in SQL and each change can tell whether availability moved.
 */
export type Availability = "IN_STOCK" | "BACKORDER" | "SOLD_OUT" | "HIDDEN";

/**
 * Whether an item's stock is counted: a PRODUCT with "Registrar cantidad disponible" on. A service
 * never is; an untracked item is always IN_STOCK and orders never touch its quantity.
 */
export const tracksInventory = (item: { type: "PRODUCT" | "SERVICE"; trackInventory: boolean }) =>
  item.type === "PRODUCT" && item.trackInventory;

/** The same rule in SQL, for an `items` row aliased `i`. */
export const TRACKS_INVENTORY_SQL = "(i.type = 'PRODUCT' AND i.track_inventory)";

/** Orders are refused for these; so are lines asking more than is available. */
export const UNORDERABLE: ReadonlySet<Availability> = new Set(["SOLD_OUT", "HIDDEN"]);

/**
 * The availability expression for an `items` row aliased `i` joined to its `stores` row `s`,
 * given SQL expressions for the quantity and committed quantity after the change.
 */
export function availabilitySql(quantity = "i.quantity", committed = "i.committed_quantity", sellWithoutStock = "i.sell_without_stock", trackInventory = "i.track_inventory") {
  return `item_availability(i.type, ${trackInventory}, ${quantity} - ${committed}, ${sellWithoutStock}, s.out_of_stock_behavior)`;
}
