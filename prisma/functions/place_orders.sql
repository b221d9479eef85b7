-- A batch of one store's checkouts (SPEC sections 2 and 8) in one call, its own transaction, each
-- order all lines or nothing: an order refused refuses only itself, and the others commit. Called
-- by src/orders/place-order.ts with the checkouts that waited in the process while the store's
-- previous batch was in PostgreSQL (a lone order is a batch of one). In this order, which is the
-- order every batch takes its locks in (so that racing batches of several processes queue instead
-- of deadlocking):
--   1. the orders' idempotency keys, in key order: every order is inserted at once under a
--      placeholder number; a key some other order holds (committed, or in a batch in flight, whose
--      end this waits for) leaves that order out, answered { "duplicate": true } for the service
--      to answer with the committed order after COMMIT;
--   2. the items of all the orders, once, in id order (the one global lock order);
--   3. each order in batch order: resolve each line to its variant (an item without options: its
--      default one), check it, allocate its units across the warehouses that fulfil online orders
--      in ascending priority (splitting where one has too few; with "Vender sin Stock" what none
--      has comes from the first), and take them (stock_change(): deducted, or committed while
--      accounting sync is on), or refuse the order; each order sees the stock the ones before it
--      left;
--   4. the refused orders' placeholders deleted, the placed ones' lines and allocations written;
--   5. last, the store's order counter once for the batch (last_number + orders placed), and the
--      numbers in batch order: the counter row is locked from there to COMMIT only.
-- No lock is held across a round trip to the service. Orders come as parallel arrays, one element
-- each (ids, how many lines, customer, key, request hash); their lines follow each other in one
-- set of parallel arrays (item ids, variant ids: null for the item's default, quantities). Answers
-- a JSON array, one element per order in the order given, each one of:
--   { "order": <the orders row, Prisma's field names>, "stock": <stock_change's answer> }
--   { "shortages": [{ itemId, variantId, requested, available }] }   (that order changed nothing)
--   { "error": { code, field, message } }                            (that order changed nothing; also
--                                                                     when its stock taken would pass the limit)
--   { "duplicate": true }                                            (its key is another order's)

-- the function of one order a call that this one replaced (a checkout is a batch of one now)
DROP FUNCTION IF EXISTS place_order(UUID, UUID, UUID[], UUID[], INTEGER[], TEXT, TEXT, TEXT, TEXT);

CREATE OR REPLACE FUNCTION place_orders(
    p_store_id UUID,
    p_order_ids UUID[], p_line_counts INTEGER[], p_customer_names TEXT[], p_customer_emails TEXT[],
    p_idempotency_keys TEXT[], p_request_hashes TEXT[],
    p_item_ids UUID[], p_variant_ids UUID[], p_quantities INTEGER[]
) RETURNS JSON LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_claimed UUID[];
    v_first INTEGER := 1;  -- the first line of the order at hand, in the p_item_ids... arrays
    v_last INTEGER;
    v_error JSON;
    v_largest INTEGER;
    v_total NUMERIC;
    v_shortages JSON;
    v_refusal JSON;
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
    -- per order, in batch order: its refusal (null when placed) and what its stock change answered
    o_refusal JSON[] := '{}';
    o_stock JSON[] := '{}';
    v_refused UUID[] := '{}';
    -- the placed orders in batch order, their totals, and all their lines and allocations
    b_order UUID[] := '{}';
    b_total NUMERIC[] := '{}';
    bl_order UUID[] := '{}';
    bl_item UUID[] := '{}';
    bl_variant UUID[] := '{}';
    bl_quantity INTEGER[] := '{}';
    bl_price NUMERIC[] := '{}';
    bl_tracked BOOLEAN[] := '{}';
    ba_order UUID[] := '{}';
    ba_variant UUID[] := '{}';
    ba_warehouse UUID[] := '{}';
    ba_quantity INTEGER[] := '{}';
    v_answer JSON;
BEGIN
    -- 1. every order under a placeholder number (negative, unique, never seen outside this
    -- transaction), the keys claimed in key order; a key already held is left to its holder
    WITH claimed AS (
        INSERT INTO orders (store_id, id, number, total, customer_name, customer_email, idempotency_key, request_hash)
        SELECT p_store_id, o.id, -(1 + nextval('order_number_placeholders') % 2000000000)::int, 0,
               o.customer_name, o.customer_email, o.idempotency_key, o.request_hash
          FROM unnest(p_order_ids, p_customer_names, p_customer_emails, p_idempotency_keys, p_request_hashes)
               WITH ORDINALITY AS o(id, customer_name, customer_email, idempotency_key, request_hash, n)
         ORDER BY o.idempotency_key, o.n
        ON CONFLICT (store_id, idempotency_key) DO NOTHING
        RETURNING id
    )
    SELECT coalesce(array_agg(id), '{}') INTO v_claimed FROM claimed;

    -- 2. the one global lock order: items by id; from here on no other statement changes their stock
    PERFORM 1 FROM items WHERE store_id = p_store_id AND id = ANY(p_item_ids) ORDER BY id FOR UPDATE;

    -- 3. each order in batch order
    FOR i IN 1 .. cardinality(p_order_ids) LOOP
        v_last := v_first + p_line_counts[i] - 1;
        v_refusal := NULL;
        v_stock := NULL;
        IF NOT p_order_ids[i] = ANY(v_claimed) THEN
            v_refusal := json_build_object('duplicate', true);
        ELSE
            -- one statement resolves the lines, checks them and allocates their units, and hands
            -- the lines and allocations on as arrays (no JSON in between)
            WITH asked AS (
                SELECT r.item_id, r.variant_id, r.quantity, (r.n - 1)::int AS n
                  FROM unnest(p_item_ids[v_first:v_last], p_variant_ids[v_first:v_last], p_quantities[v_first:v_last])
                       WITH ORDINALITY AS r(item_id, variant_id, quantity, n)
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

            IF v_error IS NOT NULL THEN
                v_refusal := json_build_object('error', v_error);
            ELSIF v_largest > 10000 THEN
                v_refusal := json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                                                                          'message', 'at most 10000 units of one variant per order'));
            ELSIF v_total > 999999999999.99 THEN
                v_refusal := json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                                                                          'message', 'the order''s total would be more than 999999999999.99'));
            ELSIF v_shortages IS NOT NULL THEN
                v_refusal := json_build_object('shortages', v_shortages);
            ELSE
                -- take the stock: deducted, or committed while accounting sync is on; all of it, or
                -- (past the limit of a level, variant or item) none
                v_stock := stock_change(p_store_id, a_variant, a_warehouse, NULL, NULL, NULL, NULL, a_quantity,
                                        true, false, false, true, 'ORDER_PLACED', p_order_ids[i], NULL, NULL, true);
                IF (SELECT bool_and(r->>'reason' LIKE '%\_LIMIT') FROM json_array_elements(v_stock->'refused') r) THEN
                    v_refusal := json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                        'message', 'the order would take a stock count past -1000000000 units (or its committed units past 1000000000)'));
                    v_stock := NULL;
                ELSIF (v_stock->>'levels')::int <> cardinality(a_variant) THEN
                    RAISE EXCEPTION 'stock changed under lock while placing order %', p_order_ids[i];
                END IF;
            END IF;
            IF v_refusal IS NULL THEN
                b_order := b_order || p_order_ids[i];
                b_total := b_total || v_total;
                bl_order := bl_order || array_fill(p_order_ids[i], ARRAY[cardinality(l_variant)]);
                bl_item := bl_item || l_item;
                bl_variant := bl_variant || l_variant;
                bl_quantity := bl_quantity || l_quantity;
                bl_price := bl_price || l_price;
                bl_tracked := bl_tracked || l_tracked;
                ba_order := ba_order || array_fill(p_order_ids[i], ARRAY[cardinality(a_variant)]);
                ba_variant := ba_variant || a_variant;
                ba_warehouse := ba_warehouse || a_warehouse;
                ba_quantity := ba_quantity || a_quantity;
            ELSE
                v_refused := v_refused || p_order_ids[i];
            END IF;
        END IF;
        o_refusal := array_append(o_refusal, v_refusal);
        o_stock := array_append(o_stock, v_stock);
        v_first := v_last + 1;
    END LOOP;

    -- 4. the refused orders leave nothing (their keys free again); the placed ones get their lines
    IF cardinality(v_refused) > 0 THEN
        DELETE FROM orders WHERE store_id = p_store_id AND id = ANY(v_refused);
    END IF;
    IF cardinality(b_order) > 0 THEN
        WITH created_lines AS (
            INSERT INTO order_lines (store_id, order_id, item_id, variant_id, quantity, unit_price, stock_taken)
            SELECT p_store_id, l.order_id, l.item_id, l.variant_id, l.quantity, l.unit_price, l.tracked
              FROM unnest(bl_order, bl_item, bl_variant, bl_quantity, bl_price, bl_tracked)
                AS l(order_id, item_id, variant_id, quantity, unit_price, tracked)
        )
        INSERT INTO order_line_allocations (store_id, order_id, variant_id, warehouse_id, quantity)
        SELECT p_store_id, a.order_id, a.variant_id, a.warehouse_id, a.quantity
          FROM unnest(ba_order, ba_variant, ba_warehouse, ba_quantity) AS a(order_id, variant_id, warehouse_id, quantity);
    END IF;

    -- 5. last, the store's next numbers, once for the batch, and every order's answer
    WITH next AS (
        INSERT INTO order_counters AS c (store_id, last_number)
        SELECT p_store_id, cardinality(b_order) WHERE cardinality(b_order) > 0
        ON CONFLICT (store_id) DO UPDATE SET last_number = c.last_number + cardinality(b_order)
        RETURNING last_number
    ), numbered AS (
        UPDATE orders o SET number = next.last_number - cardinality(b_order) + p.rank, total = p.total,
                            holds_committed = s.accounting_sync
          FROM next, stores s, unnest(b_order, b_total) WITH ORDINALITY AS p(id, total, rank)
         WHERE o.store_id = p_store_id AND o.id = p.id AND s.id = p_store_id
        RETURNING o.*
    )
    SELECT json_agg(coalesce(r.refusal, json_build_object(
               'order', json_build_object('storeId', o.store_id, 'id', o.id, 'number', o.number, 'status', o.status,
                                          'total', o.total::text, 'customerName', o.customer_name,
                                          'customerEmail', o.customer_email, 'idempotencyKey', o.idempotency_key,
                                          'requestHash', o.request_hash, 'holdsCommitted', o.holds_committed,
                                          'invoiceAccountingId', o.invoice_accounting_id, 'invoiceNumber', o.invoice_number,
                                          'invoicedAt', o.invoiced_at, 'createdAt', o.created_at, 'updatedAt', o.updated_at),
               'stock', r.stock)) ORDER BY r.n)
      INTO v_answer
      FROM unnest(p_order_ids, o_refusal, o_stock) WITH ORDINALITY AS r(id, refusal, stock, n)
      LEFT JOIN numbered o ON o.id = r.id;
    RETURN v_answer;
END
$$;
