-- The checkout (SPEC sections 2 and 8) in one call, its own transaction, all lines or nothing:
-- locks the order's items in id order (the one global lock order), resolves each line to its
-- variant (an item without options: its default one), allocates each line across the warehouses
-- that fulfil online orders in ascending priority (splitting where one has too few; with "Vender
-- sin Stock" what none has comes from the first), takes the stock (stock_change(): deducted, or
-- committed while accounting sync is on), writes the order, its lines and their allocations under
-- a placeholder number, and only then takes the store's next order number, so that the store's
-- counter row is locked from there to COMMIT only. No lock is held across a round trip to the
-- service. Lines come as parallel arrays: item ids, variant ids (null: the item's default),
-- quantities. Called by src/orders/place-order.ts. Answers one of:
--   { "order": <the orders row, Prisma's field names>, "stock": <stock_change's answer> }
--   { "shortages": [{ itemId, variantId, requested, available }] }   (nothing changed)
--   { "error": { code, field, message } }                            (nothing changed; also when the
--                                                                     stock taken would pass the limit)
--
-- After the lock, one statement resolves the lines, checks them and allocates their units, and
-- hands the lines and allocations on as arrays (no JSON in between).
CREATE OR REPLACE FUNCTION place_order(
    p_store_id UUID, p_order_id UUID, p_item_ids UUID[], p_variant_ids UUID[], p_quantities INTEGER[],
    p_customer_name TEXT, p_customer_email TEXT, p_idempotency_key TEXT, p_request_hash TEXT
) RETURNS JSON LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_error JSON;
    v_largest INTEGER;
    v_total NUMERIC;
    v_shortages JSON;
    -- the order's lines, one per variant (repeats summed), as parallel arrays
    l_variant UUID[];
    l_item UUID[];
    l_quantity INTEGER[];
    l_price NUMERIC[];
    l_tracked BOOLEAN[];
    -- where their units come from, one element per stock level taken from
    a_variant UUID[];
    a_warehouse UUID[];
    a_quantity INTEGER[];
    v_stock JSON;
    v_order JSON;
BEGIN
    -- the one global lock order: items by id; from here on no other statement changes their stock
    PERFORM 1 FROM items WHERE store_id = p_store_id AND id = ANY(p_item_ids) ORDER BY id FOR UPDATE;

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
        -- each tracked variant's fulfilling levels by its key (store_id, variant_id): OFFSET 0
        -- keeps the lateral lookup from being turned into a join that a kept plan would run as a
        -- scan of the store
        SELECT lv.*, row_number() OVER (PARTITION BY lv.variant_id ORDER BY lv.priority, lv.warehouse_id) AS rank
          FROM lines ln
          CROSS JOIN LATERAL (
              SELECT l.variant_id, l.warehouse_id, l.quantity - l.committed_quantity AS available, w.priority
                FROM stock_levels l JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
               WHERE l.store_id = p_store_id AND l.variant_id = ln.variant_id AND w.fulfils_online_orders
              OFFSET 0) lv
         WHERE ln.tracked
    ), cumulative AS (
        SELECT lv.*, coalesce(sum(greatest(lv.available, 0)) OVER (PARTITION BY lv.variant_id ORDER BY lv.rank
                                                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
          FROM levels lv
    ), taken AS (
        -- in ascending priority, each level gives what it has until the line has its units
        SELECT c.variant_id, c.warehouse_id, c.rank, c.available,
               least(greatest(c.available, 0), greatest(ln.quantity - c.before, 0))::int AS take
          FROM cumulative c JOIN lines ln ON ln.variant_id = c.variant_id
    ), per_line AS (
        SELECT ln.variant_id, ln.item_id, ln.quantity, ln.sell_without_stock, ln.availability,
               coalesce(sum(t.take), 0)::int AS taken, coalesce(sum(t.available), 0)::int AS available, count(t.*) AS levels
          FROM lines ln LEFT JOIN taken t ON t.variant_id = ln.variant_id
         WHERE ln.tracked
         GROUP BY ln.variant_id, ln.item_id, ln.quantity, ln.sell_without_stock, ln.availability
    ), allocated AS (
        -- with "Vender sin Stock", what no level has comes from the first
        SELECT t.variant_id, t.warehouse_id,
               t.take + CASE WHEN t.rank = 1 AND p.sell_without_stock THEN p.quantity - p.taken ELSE 0 END AS quantity
          FROM taken t JOIN per_line p ON p.variant_id = t.variant_id
    )
    SELECT (SELECT json_build_object(
                'code', CASE WHEN a.found_item IS NULL OR a.variant_id IS NOT NULL THEN 'NOT_FOUND' ELSE 'INVALID_INPUT' END,
                'field', CASE WHEN a.found_item IS NULL THEN 'lines.' || a.n || '.itemId' ELSE 'lines.' || a.n || '.variantId' END,
                'message', CASE WHEN a.found_item IS NULL THEN 'Item not found'
                                WHEN a.variant_id IS NOT NULL THEN 'Variant not found'
                                ELSE 'this item is sold in variants: say which one (variantId)' END)
              FROM resolved a WHERE a.found_item IS NULL OR a.found_variant IS NULL
             ORDER BY a.n LIMIT 1),
           ln.largest, ln.total, ln.variants, ln.items, ln.quantities, ln.prices, ln.tracked,
           (SELECT json_agg(json_build_object('itemId', p.item_id, 'variantId', p.variant_id, 'requested', p.quantity,
                                              'available', greatest(p.available, 0)) ORDER BY p.item_id, p.variant_id)
              FROM per_line p
             WHERE p.levels = 0
                OR (NOT p.sell_without_stock AND (p.availability IN ('SOLD_OUT', 'HIDDEN') OR p.taken < p.quantity))),
           al.variants, al.warehouses, al.quantities
      INTO v_error, v_largest, v_total, l_variant, l_item, l_quantity, l_price, l_tracked, v_shortages,
           a_variant, a_warehouse, a_quantity
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
              FROM allocated WHERE quantity > 0) al;

    IF v_error IS NOT NULL THEN RETURN json_build_object('error', v_error); END IF;
    IF v_largest > 10000 THEN
        RETURN json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                                                            'message', 'at most 10000 units of one variant per order'));
    END IF;
    IF v_total > 999999999999.99 THEN
        RETURN json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                                                            'message', 'the order''s total would be more than 999999999999.99'));
    END IF;
    IF v_shortages IS NOT NULL THEN RETURN json_build_object('shortages', v_shortages); END IF;

    -- take the stock: deducted, or committed while accounting sync is on; all of it, or (past the
    -- limit of a level, variant or item) none
    v_stock := stock_change(p_store_id, a_variant, a_warehouse, NULL, NULL, NULL, NULL, a_quantity,
                            true, false, false, true, 'ORDER_PLACED', p_order_id, NULL, NULL, true);
    IF (SELECT bool_and(r->>'reason' LIKE '%\_LIMIT') FROM json_array_elements(v_stock->'refused') r) THEN
        RETURN json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
            'message', 'the order would take a stock count past -1000000000 units (or its committed units past 1000000000)'));
    END IF;
    IF (v_stock->>'levels')::int <> cardinality(a_variant) THEN
        RAISE EXCEPTION 'stock changed under lock while placing order %', p_order_id;
    END IF;

    -- the order, its lines and allocations, under a placeholder number (negative, unique, never
    -- seen outside this transaction), so that taking the real one is the last, smallest step
    WITH created AS (
        INSERT INTO orders (store_id, id, number, total, customer_name, customer_email, idempotency_key, request_hash, holds_committed)
        SELECT p_store_id, p_order_id, -(1 + nextval('order_number_placeholders') % 2000000000)::int, v_total,
               p_customer_name, p_customer_email, p_idempotency_key, p_request_hash, s.accounting_sync
          FROM stores s WHERE s.id = p_store_id
        RETURNING id
    ), created_lines AS (
        INSERT INTO order_lines (store_id, order_id, item_id, variant_id, quantity, unit_price, stock_taken)
        SELECT p_store_id, p_order_id, l.item_id, l.variant_id, l.quantity, l.unit_price, l.tracked
          FROM unnest(l_item, l_variant, l_quantity, l_price, l_tracked) AS l(item_id, variant_id, quantity, unit_price, tracked)
    )
    INSERT INTO order_line_allocations (store_id, order_id, variant_id, warehouse_id, quantity)
    SELECT p_store_id, p_order_id, a.variant_id, a.warehouse_id, a.quantity
      FROM unnest(a_variant, a_warehouse, a_quantity) AS a(variant_id, warehouse_id, quantity);

    -- last, the store's next number: its counter row is locked from here to COMMIT only
    WITH next AS (
        INSERT INTO order_counters AS c (store_id, last_number) VALUES (p_store_id, 1)
        ON CONFLICT (store_id) DO UPDATE SET last_number = c.last_number + 1
        RETURNING last_number
    ), numbered AS (
        UPDATE orders o SET number = next.last_number FROM next
         WHERE o.store_id = p_store_id AND o.id = p_order_id
        RETURNING o.*
    )
    SELECT json_build_object('storeId', store_id, 'id', id, 'number', number, 'status', status, 'total', total::text,
                             'customerName', customer_name, 'customerEmail', customer_email, 'idempotencyKey', idempotency_key,
                             'requestHash', request_hash, 'holdsCommitted', holds_committed,
                             'invoiceAccountingId', invoice_accounting_id, 'invoiceNumber', invoice_number,
                             'invoicedAt', invoiced_at, 'createdAt', created_at, 'updatedAt', updated_at)
      INTO v_order FROM numbered;
    RETURN json_build_object('order', v_order, 'stock', v_stock);
END
$$;
