-- Whether a variant is low on stock (SPEC section 9), the one place it is decided: its item is a
-- product that tracks inventory, a threshold is in force (the variant's own, else the store's)
-- and its available units are at or below it. Every statement that changes a variant's stock or
-- threshold keeps the variant's low_stock flag equal to it and records a low-stock alert where
-- the flag turns on (stock_change(), src/stock/low-stock.ts), so each crossing is seen once.
CREATE OR REPLACE FUNCTION is_low_stock(
    item_type "ItemType",
    track_inventory BOOLEAN,
    available_quantity INTEGER,
    variant_threshold INTEGER,
    store_threshold INTEGER
) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT item_type = 'PRODUCT'::"ItemType" AND track_inventory
       AND coalesce(available_quantity <= coalesce(variant_threshold, store_threshold), false)
$$;
