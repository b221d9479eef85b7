import { builder } from "./builder.ts";
import "./types/errors.ts";
import "./types/items.ts";
import "./types/variants.ts";
import "./types/warehouses.ts";
import "./types/stores.ts";
import "./types/orders.ts";
import "./types/live-updates.ts";
import "./types/low-stock.ts";
import "./types/reservations.ts";
import "./types/accounting.ts";
import "./types/storefront-tokens.ts";

export const schema = builder.toSchema({ sortSchema: false });
