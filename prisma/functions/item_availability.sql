-- Availability of an item or variant, the one place it is decided (SPEC section 1). Every
-- statement that changes stock or its settings stores its result (items.availability,
-- variants.availability), so listings can leave HIDDEN ones out and updates can see transitions.
--
-- It answers with constants of its enum: a cast from text would call the enum's input function,
-- which is not immutable, and keep PostgreSQL from inlining this IMMUTABLE function into the
-- statements that use it (stock_change() would then run it as a SQL function, parsed and
-- planned at every call).
CREATE OR REPLACE FUNCTION item_availability(
    item_type "ItemType",
    track_inventory BOOLEAN,
    available_quantity INTEGER,
    sell_without_stock BOOLEAN,
    out_of_stock_behavior "OutOfStockBehavior"
) RETURNS "Availability" LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN item_type = 'SERVICE' OR NOT track_inventory OR available_quantity > 0 THEN 'IN_STOCK'::"Availability"
        WHEN sell_without_stock THEN 'BACKORDER'::"Availability"
        WHEN out_of_stock_behavior = 'HIDE' THEN 'HIDDEN'::"Availability"
        ELSE 'SOLD_OUT'::"Availability"
    END
$$;
