-- The lines of one order or cart hold (SPEC sections 2, 8 and 9), resolved, checked and allocated
-- in one statement, changing nothing: place_orders() calls it for each order of a batch and
-- reserve_stock() for a hold, one definition of what a checkout may take. The caller holds the
-- locks of the items, and of the items of p_reservation_id, the hold the order is placed with
-- (null: none), which it has checked is HELD.
--
-- Each line is resolved to its variant (an item without options: its default one); repeats are
-- summed. A tracked variant's units are allocated across the warehouses that fulfil online orders:
-- first the units its hold keeps for it, in ascending priority (no other shopper can have them),
-- then the rest, in ascending priority too, from what each level has available (quantity -
-- committed - reserved, plus what the hold keeps there and the order did not take already). With
-- "Vender sin Stock", what no level has comes from the first. A level the merchant counted below
-- what the hold keeps there gives only what it has: a hold guarantees its units against other
-- shoppers, not against a recount.
--
-- Answers, as OUT parameters, what the caller decides on and writes:
--   error      the first line naming an unknown item or variant (or an item with options without
--              its variant): { code, field: "lines.<n>.itemId|variantId" (n from 0), message }
--   largest    the most units of one variant; total, the order's total at the variants' prices
--   shortages  null, or every short line: [{ itemId, variantId, requested, available }]
--   line_*     one element per line (by variant id): variant, item, units, unit price, tracked
--   alloc_*    one element per stock level taken from (by variant, then warehouse): its units
--   change_*   the stock changes of an order placed with the hold: each level it takes from (take)
--              and each level the hold keeps units in (add_reserved, negative: all of them go back)
DROP FUNCTION IF EXISTS allocate_order_lines(UUID, UUID[], UUID[], INTEGER[], UUID);
CREATE OR REPLACE FUNCTION allocate_order_lines(
    p_store_id UUID, p_item_ids UUID[], p_variant_ids UUID[], p_quantities INTEGER[], p_reservation_id UUID,
    OUT error JSON, OUT largest INTEGER, OUT total NUMERIC, OUT shortages JSON,
    OUT line_variants UUID[], OUT line_items UUID[], OUT line_quantities INTEGER[], OUT line_prices NUMERIC[],
    OUT line_tracked BOOLEAN[],
    OUT alloc_variants UUID[], OUT alloc_warehouses UUID[], OUT alloc_quantities INTEGER[],
    OUT change_variants UUID[], OUT change_warehouses UUID[], OUT change_takes INTEGER[], OUT change_reserved INTEGER[]
) LANGUAGE plpgsql STABLE
SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    -- one statement resolves the lines, checks them and allocates their units, and hands the lines
    -- and allocations on as arrays (no JSON in between)
    WITH asked AS (
        SELECT r.item_id, r.variant_id, r.quantity, (r.n - 1)::int AS n
          FROM unnest(p_item_ids, p_variant_ids, p_quantities) WITH ORDINALITY AS r(item_id, variant_id, quantity, n)
    ), resolved AS (
        -- each line's item and variant (an item without options: its default one)
        SELECT a.*, i.id AS found_item, v.id AS found_variant,
               (i.type = 'PRODUCT' AND i.track_inventory) AS tracked, i.sell_without_stock, v.availability,
               coalesce(v.price, i.price) AS unit_price
          FROM asked a
          LEFT JOIN items i ON i.store_id = p_store_id AND i.id = a.item_id
          LEFT JOIN variants v ON v.store_id = p_store_id AND v.item_id = a.item_id
                              AND (v.id = a.variant_id OR (a.variant_id IS NULL AND v.is_default))
    ), lines AS (
        SELECT found_variant AS variant_id, found_item AS item_id, sum(quantity)::int AS quantity,
               tracked, sell_without_stock, availability, unit_price
          FROM resolved WHERE found_variant IS NOT NULL
         GROUP BY found_variant, found_item, tracked, sell_without_stock, availability, unit_price
    ), levels AS (
        -- each tracked variant's fulfilling levels by its key (store_id, variant_id): OFFSET 0 keeps
        -- the lateral lookup from being turned into a join that a kept plan would run as a scan of
        -- the store. `available` is what this order may take there: the free units and its hold's.
        SELECT lv.variant_id, lv.warehouse_id, lv.held, lv.free + lv.held AS available,
               row_number() OVER (PARTITION BY lv.variant_id ORDER BY lv.priority, lv.warehouse_id) AS rank
          FROM lines ln
          CROSS JOIN LATERAL (
              SELECT l.variant_id, l.warehouse_id, l.quantity - l.committed_quantity - l.reserved_quantity AS free, w.priority,
                     CASE WHEN p_reservation_id IS NULL THEN 0 ELSE coalesce(
                         (SELECT h.quantity FROM reservation_allocations h
                           WHERE h.store_id = p_store_id AND h.reservation_id = p_reservation_id
                             AND h.variant_id = l.variant_id AND h.warehouse_id = l.warehouse_id), 0) END AS held
                FROM stock_levels l JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
               WHERE l.store_id = p_store_id AND l.variant_id = ln.variant_id AND w.fulfils_online_orders
              OFFSET 0) lv
         WHERE ln.tracked
    ), held_first AS (
        -- first the hold's own units, in ascending priority: at most what it keeps and the level has
        SELECT lv.*, least(lv.held, greatest(lv.available, 0)) AS held_there,
               coalesce(sum(least(lv.held, greatest(lv.available, 0))) OVER (PARTITION BY lv.variant_id ORDER BY lv.rank
                                                                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS held_before
          FROM levels lv
    ), held_taken AS (
        SELECT h.variant_id, h.warehouse_id, h.rank, h.held, h.available,
               least(h.held_there, greatest(ln.quantity - h.held_before, 0))::int AS take_held
          FROM held_first h JOIN lines ln ON ln.variant_id = h.variant_id
    ), cumulative AS (
        SELECT h.*, sum(h.take_held) OVER (PARTITION BY h.variant_id) AS held_total,
               coalesce(sum(greatest(h.available - h.take_held, 0)) OVER (PARTITION BY h.variant_id ORDER BY h.rank
                                                                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
          FROM held_taken h
    ), taken AS (
        -- then, in ascending priority, each level gives what it has left until the line has its units
        SELECT c.variant_id, c.warehouse_id, c.rank, c.available, c.held,
               c.take_held + least(greatest(c.available - c.take_held, 0), greatest(ln.quantity - c.held_total - c.before, 0))::int AS take
          FROM cumulative c JOIN lines ln ON ln.variant_id = c.variant_id
    ), per_line AS (
        SELECT ln.variant_id, ln.item_id, ln.quantity, ln.sell_without_stock, ln.availability,
               coalesce(sum(t.take), 0)::int AS taken, coalesce(sum(t.available), 0)::int AS available,
               coalesce(sum(t.held), 0)::int AS held, count(t.*) AS levels
          FROM lines ln LEFT JOIN taken t ON t.variant_id = ln.variant_id
         WHERE ln.tracked
         GROUP BY ln.variant_id, ln.item_id, ln.quantity, ln.sell_without_stock, ln.availability
    ), allocated AS (
        -- with "Vender sin Stock", what no level has comes from the first
        SELECT t.variant_id, t.warehouse_id,
               t.take + CASE WHEN t.rank = 1 AND p.sell_without_stock THEN p.quantity - p.taken ELSE 0 END AS quantity
          FROM taken t JOIN per_line p ON p.variant_id = t.variant_id
    ), changes AS (
        -- taken from where the order takes; every unit the hold keeps goes back, wherever it is
        SELECT coalesce(a.variant_id, h.variant_id) AS variant_id, coalesce(a.warehouse_id, h.warehouse_id) AS warehouse_id,
               coalesce(a.quantity, 0) AS take, -coalesce(h.quantity, 0) AS add_reserved
          FROM (SELECT * FROM allocated WHERE quantity > 0) a
          FULL JOIN (SELECT r.variant_id, r.warehouse_id, r.quantity FROM reservation_allocations r
                      WHERE r.store_id = p_store_id AND r.reservation_id = p_reservation_id) h
            ON h.variant_id = a.variant_id AND h.warehouse_id = a.warehouse_id
    )
    SELECT (SELECT json_build_object(
                'code', CASE WHEN a.found_item IS NULL OR a.variant_id IS NOT NULL THEN 'NOT_FOUND' ELSE 'INVALID_INPUT' END,
                'field', CASE WHEN a.found_item IS NULL THEN 'lines.' || a.n || '.itemId' ELSE 'lines.' || a.n || '.variantId' END,
                'message', CASE WHEN a.found_item IS NULL THEN 'Item not found'
                                WHEN a.variant_id IS NOT NULL THEN 'Variant not found'
                                ELSE 'this item is sold in variants: say which one (variantId)' END)
              FROM resolved a WHERE a.found_item IS NULL OR a.found_variant IS NULL
             ORDER BY a.n LIMIT 1),
           ln.largest, ln.total,
           (SELECT json_agg(json_build_object('itemId', p.item_id, 'variantId', p.variant_id, 'requested', p.quantity,
                                              'available', greatest(p.available, 0)) ORDER BY p.item_id, p.variant_id)
              FROM per_line p
             WHERE p.levels = 0
                -- a variant its own hold sold out is not sold out to this order: what it takes decides
                OR (NOT p.sell_without_stock AND ((p.availability IN ('SOLD_OUT', 'HIDDEN') AND p.held = 0) OR p.taken < p.quantity))),
           ln.variants, ln.items, ln.quantities, ln.prices, ln.tracked,
           al.variants, al.warehouses, al.quantities,
           ch.variants, ch.warehouses, ch.takes, ch.reserved
      INTO error, largest, total, shortages,
           line_variants, line_items, line_quantities, line_prices, line_tracked,
           alloc_variants, alloc_warehouses, alloc_quantities,
           change_variants, change_warehouses, change_takes, change_reserved
      FROM (SELECT max(quantity) AS largest, coalesce(sum(unit_price * quantity), 0) AS total,
                   coalesce(array_agg(variant_id ORDER BY variant_id), '{}') AS variants,
                   coalesce(array_agg(item_id ORDER BY variant_id), '{}') AS items,
                   coalesce(array_agg(quantity ORDER BY variant_id), '{}') AS quantities,
                   coalesce(array_agg(unit_price ORDER BY variant_id), '{}') AS prices,
                   coalesce(array_agg(tracked ORDER BY variant_id), '{}') AS tracked
              FROM lines) ln,
           (SELECT coalesce(array_agg(variant_id ORDER BY variant_id, warehouse_id), '{}') AS variants,
                   coalesce(array_agg(warehouse_id ORDER BY variant_id, warehouse_id), '{}') AS warehouses,
                   coalesce(array_agg(quantity ORDER BY variant_id, warehouse_id), '{}') AS quantities
              FROM allocated WHERE quantity > 0) al,
           (SELECT coalesce(array_agg(variant_id ORDER BY variant_id, warehouse_id), '{}') AS variants,
                   coalesce(array_agg(warehouse_id ORDER BY variant_id, warehouse_id), '{}') AS warehouses,
                   coalesce(array_agg(take ORDER BY variant_id, warehouse_id), '{}') AS takes,
                   coalesce(array_agg(add_reserved ORDER BY variant_id, warehouse_id), '{}') AS reserved
              FROM changes) ch;
END
$$;
