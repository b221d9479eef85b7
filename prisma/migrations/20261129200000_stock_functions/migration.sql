-- The stock ledger and the checkout as server-side functions (Prisma does not model functions).
-- stock_change() is the one statement that changes stock: src/stock/stock-ledger.ts calls it for
-- every change, with the items locked. place_order() is the whole checkout in one call: an order
-- holds its items' locks, and its store's order counter, only while PostgreSQL works on it and
-- commits, never across a round trip to the service (no queue on the store: issue 12).

-- Applies changes to stock levels of tracked products of the store; the caller holds the items'
-- locks (every statement here reads rows that only the lock holder changes). A change whose level
-- is missing, whose item is untracked, or that the guards or its expected quantity refuse, is
-- left out. Each changed level writes its movement; each changed variant and item gets its new
-- sums (variants over the warehouses that fulfil online orders), availability and version.
-- Returns { levels: <levels changed>, variants: [one row per changed variant, with its item] }.
CREATE FUNCTION stock_change(
    p_store_id UUID,
    p_variant_ids UUID[], p_warehouse_ids UUID[], p_set INTEGER[], p_add INTEGER[], p_add_committed INTEGER[],
    p_expected INTEGER[], p_take INTEGER[],
    p_keep_available BOOLEAN, p_never_below_zero BOOLEAN, p_refuse_when_synced BOOLEAN, p_only_tracked BOOLEAN,
    p_reason "StockMovementReason", p_order_id UUID, p_transfer_id UUID, p_note TEXT
) RETURNS JSON LANGUAGE plpgsql VOLATILE
-- one plan, kept for the session from the first call (planning this statement costs several times running it)
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_answer JSON;
BEGIN
-- plpgsql, not sql: the statement's plan is kept for the session (a SQL function plans it anew
-- at every call)
WITH c AS (
    SELECT c.variant_id, c.warehouse_id, c.set_quantity, coalesce(c.add_quantity, 0) AS add_quantity,
           coalesce(c.add_committed, 0) AS add_committed, c.expected_quantity, coalesce(c.take, 0) AS take
      FROM unnest(p_variant_ids, p_warehouse_ids, p_set, p_add, p_add_committed, p_expected, p_take)
        AS c(variant_id, warehouse_id, set_quantity, add_quantity, add_committed, expected_quantity, take)
), after AS (
    SELECT c.*, o.quantity AS quantity_before, o.committed_quantity AS committed_before, v.item_id,
           w.fulfils_online_orders AS fulfils, s.accounting_sync, i.sell_without_stock,
           coalesce(c.set_quantity, o.quantity + c.add_quantity - CASE WHEN s.accounting_sync THEN 0 ELSE c.take END) AS quantity_after,
           o.committed_quantity + c.add_committed + CASE WHEN s.accounting_sync THEN c.take ELSE 0 END AS committed_after
      FROM c
      JOIN stock_levels o ON o.store_id = p_store_id AND o.variant_id = c.variant_id AND o.warehouse_id = c.warehouse_id
      JOIN variants v ON v.store_id = p_store_id AND v.id = c.variant_id
      JOIN items i ON i.store_id = p_store_id AND i.id = v.item_id
      JOIN stores s ON s.id = p_store_id
      JOIN warehouses w ON w.store_id = p_store_id AND w.id = c.warehouse_id
     WHERE i.type = 'PRODUCT' AND (NOT p_only_tracked OR i.track_inventory)
       AND (NOT p_refuse_when_synced OR NOT s.accounting_sync)
       AND (c.expected_quantity IS NULL OR o.quantity = c.expected_quantity)
), allowed AS (
    SELECT * FROM after a
     WHERE (NOT p_keep_available OR (a.sell_without_stock AND NOT p_never_below_zero) OR a.quantity_after - a.committed_after >= 0)
       AND abs(a.quantity_after::bigint) <= 1000000000
), changed_levels AS (
    UPDATE stock_levels l SET quantity = a.quantity_after, committed_quantity = a.committed_after
      FROM allowed a
     WHERE l.store_id = p_store_id AND l.variant_id = a.variant_id AND l.warehouse_id = a.warehouse_id
    RETURNING l.variant_id, l.warehouse_id, a.item_id, a.fulfils, l.quantity,
              a.quantity_after - a.quantity_before AS delta, a.committed_after - a.committed_before AS committed_delta,
              (a.set_quantity IS NOT NULL OR a.add_quantity <> 0 OR (a.take <> 0 AND NOT a.accounting_sync)) AS moves_quantity
), variant_deltas AS (
    SELECT variant_id, item_id,
           coalesce(sum(delta) FILTER (WHERE fulfils), 0)::int AS quantity,
           coalesce(sum(committed_delta) FILTER (WHERE fulfils), 0)::int AS committed
      FROM changed_levels GROUP BY variant_id, item_id
), changed_variants AS (
    UPDATE variants v SET
        quantity = v.quantity + d.quantity,
        committed_quantity = v.committed_quantity + d.committed,
        availability = item_availability(i.type, i.track_inventory, (v.quantity + d.quantity) - (v.committed_quantity + d.committed),
                                         i.sell_without_stock, s.out_of_stock_behavior),
        version = v.version + 1,
        updated_at = now()
      FROM variant_deltas d, variants ov, items i, stores s
     WHERE v.store_id = p_store_id AND v.id = d.variant_id AND ov.store_id = v.store_id AND ov.id = v.id
       AND i.store_id = v.store_id AND i.id = v.item_id AND s.id = v.store_id
    RETURNING v.id, v.item_id, v.quantity, v.committed_quantity, v.availability, v.version, ov.availability AS availability_before
), item_deltas AS (
    SELECT item_id, sum(quantity)::int AS quantity, sum(committed)::int AS committed FROM variant_deltas GROUP BY item_id
), changed_items AS (
    UPDATE items i SET
        quantity = i.quantity + d.quantity,
        committed_quantity = i.committed_quantity + d.committed,
        -- the best of its variants': the changed ones as they are now, the others as they were
        availability = (SELECT min(a) FROM (
            SELECT cv.availability AS a FROM changed_variants cv WHERE cv.item_id = i.id
            UNION ALL
            SELECT v2.availability FROM variants v2
             WHERE v2.store_id = i.store_id AND v2.item_id = i.id AND v2.id NOT IN (SELECT id FROM changed_variants)) best),
        version = i.version + 1,
        updated_at = now()
      FROM item_deltas d, items oi
     WHERE i.store_id = p_store_id AND i.id = d.item_id AND oi.store_id = i.store_id AND oi.id = i.id
    RETURNING i.id, i.type, i.track_inventory, i.quantity, i.committed_quantity, i.availability, i.version,
              oi.availability AS availability_before
), moved AS (
    INSERT INTO stock_movements (store_id, item_id, variant_id, warehouse_id, delta, quantity_after, reason, order_id, transfer_id, note)
    SELECT p_store_id, item_id, variant_id, warehouse_id, delta, quantity, p_reason, p_order_id, p_transfer_id, p_note
      FROM changed_levels WHERE moves_quantity
)
SELECT json_build_object(
    'levels', (SELECT count(*) FROM changed_levels),
    'variants', (SELECT coalesce(json_agg(json_build_object(
        'id', v.id, 'itemId', v.item_id, 'quantity', v.quantity, 'committedQuantity', v.committed_quantity,
        'availability', v.availability, 'availabilityBefore', v.availability_before, 'version', v.version,
        'type', i.type, 'trackInventory', i.track_inventory, 'itemQuantity', i.quantity,
        'itemCommittedQuantity', i.committed_quantity, 'itemAvailability', i.availability,
        'itemAvailabilityBefore', i.availability_before, 'itemVersion', i.version)), '[]'::json)
      FROM changed_variants v JOIN changed_items i ON i.id = v.item_id))
  INTO v_answer;
RETURN v_answer;
END
$$;

-- The checkout (SPEC sections 2 and 8) in one call, all lines or nothing: locks the order's items
-- in id order (the one global lock order), resolves each line to its variant (an item without
-- options: its default one), allocates each line across the warehouses that fulfil online orders
-- in ascending priority (splitting where one has too few; with "Vender sin Stock" what none has
-- comes from the first), takes the stock (stock_change: deducted, or committed while accounting
-- sync is on), and only then takes the store's next order number and writes the order, its lines
-- and their allocations. Answers one of:
--   { "order": <the orders row, Prisma's field names>, "stock": <stock_change's answer> }
--   { "shortages": [{ itemId, variantId, requested, available }] }   (nothing changed)
--   { "error": { code, field, message } }                            (nothing changed)
-- Lines come as parallel arrays: item ids, variant ids (null: the item's default), quantities.
-- Placeholder order numbers while a checkout writes its order (see place_order()).
CREATE SEQUENCE order_number_placeholders;

CREATE FUNCTION place_order(
    p_store_id UUID, p_order_id UUID, p_item_ids UUID[], p_variant_ids UUID[], p_quantities INTEGER[],
    p_customer_name TEXT, p_customer_email TEXT, p_idempotency_key TEXT, p_request_hash TEXT
) RETURNS JSON LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_error JSON;
    v_lines JSONB;
    v_shortages JSON;
    v_allocations JSONB;
    v_stock JSON;
    v_order JSON;
    v_changes INTEGER;
    v_variant_ids UUID[];
BEGIN
    PERFORM 1 FROM items WHERE store_id = p_store_id AND id = ANY(p_item_ids) ORDER BY id FOR UPDATE;

    -- each line's item and variant, or the first line that names neither rightly
    WITH asked AS (
        SELECT r.item_id, r.variant_id, r.quantity, (r.n - 1)::int AS n
          FROM unnest(p_item_ids, p_variant_ids, p_quantities) WITH ORDINALITY AS r(item_id, variant_id, quantity, n)
    ), resolved AS (
        SELECT a.*, i.id AS found_item, jsonb_array_length(i.options) > 0 AS has_options, v.id AS found_variant
          FROM asked a
          LEFT JOIN items i ON i.store_id = p_store_id AND i.id = a.item_id
          LEFT JOIN variants v ON v.store_id = p_store_id AND v.item_id = a.item_id
                              AND (v.id = a.variant_id OR (a.variant_id IS NULL AND v.is_default))
    )
    SELECT json_build_object('code', CASE WHEN found_item IS NULL OR a.variant_id IS NOT NULL THEN 'NOT_FOUND' ELSE 'INVALID_INPUT' END,
                             'field', CASE WHEN found_item IS NULL THEN 'lines.' || n || '.itemId' ELSE 'lines.' || n || '.variantId' END,
                             'message', CASE WHEN found_item IS NULL THEN 'Item not found'
                                             WHEN a.variant_id IS NOT NULL THEN 'Variant not found'
                                             ELSE 'this item is sold in variants: say which one (variantId)' END)
      INTO v_error
      FROM resolved a WHERE found_item IS NULL OR found_variant IS NULL
     ORDER BY n LIMIT 1;
    IF v_error IS NOT NULL THEN RETURN json_build_object('error', v_error); END IF;

    -- one line per variant (repeats summed), with what decides on it
    WITH asked AS (
        SELECT r.item_id, r.variant_id, r.quantity
          FROM unnest(p_item_ids, p_variant_ids, p_quantities) AS r(item_id, variant_id, quantity)
    )
    SELECT jsonb_agg(l ORDER BY l.variant_id) INTO v_lines FROM (
        SELECT v.id AS variant_id, i.id AS item_id, sum(a.quantity)::int AS quantity,
               (i.type = 'PRODUCT' AND i.track_inventory) AS tracked, i.sell_without_stock, v.availability,
               coalesce(v.price, i.price) AS unit_price
          FROM asked a
          JOIN items i ON i.store_id = p_store_id AND i.id = a.item_id
          JOIN variants v ON v.store_id = p_store_id AND v.item_id = a.item_id
                         AND (v.id = a.variant_id OR (a.variant_id IS NULL AND v.is_default))
         GROUP BY v.store_id, v.id, i.store_id, i.id
    ) l;
    IF EXISTS (SELECT 1 FROM jsonb_to_recordset(v_lines) AS l(quantity int) WHERE l.quantity > 10000) THEN
        RETURN json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                                                            'message', 'at most 10000 units of one variant per order'));
    END IF;
    IF (SELECT sum(unit_price * quantity) FROM jsonb_to_recordset(v_lines) AS l(unit_price numeric, quantity int)) > 999999999999.99 THEN
        RETURN json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                                                            'message', 'the order''s total would be more than 999999999999.99'));
    END IF;

    -- where each tracked line's units come from: the fulfilling levels in ascending priority
    v_variant_ids := ARRAY(SELECT (x->>'variant_id')::uuid FROM jsonb_array_elements(v_lines) x);
    WITH lines AS (
        SELECT * FROM jsonb_to_recordset(v_lines)
          AS l(variant_id uuid, item_id uuid, quantity int, tracked boolean, sell_without_stock boolean, availability "Availability")
         WHERE tracked
    ), levels AS (
        -- each variant's levels by its key (store_id, variant_id): OFFSET 0 keeps the lateral
        -- lookup from being turned into a join that a kept plan would run as a scan of the store
        SELECT lv.*, row_number() OVER (PARTITION BY lv.variant_id ORDER BY lv.priority, lv.warehouse_id) AS rank
          FROM unnest(v_variant_ids) AS asked(variant_id)
          CROSS JOIN LATERAL (
              SELECT l.variant_id, l.warehouse_id, l.quantity - l.committed_quantity AS available, w.priority
                FROM stock_levels l JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
               WHERE l.store_id = p_store_id AND l.variant_id = asked.variant_id AND w.fulfils_online_orders
              OFFSET 0) lv
    ), cumulative AS (
        SELECT lv.*, coalesce(sum(greatest(lv.available, 0)) OVER (PARTITION BY lv.variant_id ORDER BY lv.rank
                                                               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
          FROM levels lv
    ), taken AS (
        SELECT c.variant_id, c.warehouse_id, c.rank, c.available,
               least(greatest(c.available, 0), greatest(ln.quantity - c.before, 0))::int AS take
          FROM cumulative c JOIN lines ln ON ln.variant_id = c.variant_id
    ), per_line AS (
        SELECT ln.*, coalesce(sum(t.take), 0)::int AS taken, coalesce(sum(t.available), 0)::int AS available,
               count(t.*) AS levels
          FROM lines ln LEFT JOIN taken t ON t.variant_id = ln.variant_id
         GROUP BY ln.variant_id, ln.item_id, ln.quantity, ln.tracked, ln.sell_without_stock, ln.availability
    )
    SELECT (SELECT json_agg(json_build_object('itemId', p.item_id, 'variantId', p.variant_id, 'requested', p.quantity,
                                              'available', greatest(p.available, 0)) ORDER BY p.item_id, p.variant_id)
              FROM per_line p
             WHERE p.levels = 0
                OR (NOT p.sell_without_stock AND (p.availability IN ('SOLD_OUT', 'HIDDEN') OR p.taken < p.quantity))),
           (SELECT coalesce(jsonb_agg(jsonb_build_object('variantId', t.variant_id, 'warehouseId', t.warehouse_id,
                        'quantity', t.take + CASE WHEN t.rank = 1 AND p.sell_without_stock THEN p.quantity - p.taken ELSE 0 END)), '[]'::jsonb)
              FROM taken t JOIN per_line p ON p.variant_id = t.variant_id
             WHERE t.take + CASE WHEN t.rank = 1 AND p.sell_without_stock THEN p.quantity - p.taken ELSE 0 END > 0)
      INTO v_shortages, v_allocations
      FROM (SELECT 1) one;
    IF v_shortages IS NOT NULL THEN RETURN json_build_object('shortages', v_shortages); END IF;

    -- take the stock
    SELECT jsonb_array_length(v_allocations) INTO v_changes;
    SELECT stock_change(p_store_id,
                        ARRAY(SELECT (a->>'variantId')::uuid FROM jsonb_array_elements(v_allocations) a),
                        ARRAY(SELECT (a->>'warehouseId')::uuid FROM jsonb_array_elements(v_allocations) a),
                        NULL, NULL, NULL, NULL,
                        ARRAY(SELECT (a->>'quantity')::int FROM jsonb_array_elements(v_allocations) a),
                        true, false, false, true, 'ORDER_PLACED', p_order_id, NULL, NULL)
      INTO v_stock;
    IF (v_stock->>'levels')::int <> v_changes THEN
        RAISE EXCEPTION 'stock changed under lock while placing order %', p_order_id;
    END IF;

    -- the order, its lines and allocations, under a placeholder number (negative, unique, never
    -- seen outside this transaction), so that taking the real one is the last, smallest step
    WITH lines AS (
        SELECT * FROM jsonb_to_recordset(v_lines) AS l(variant_id uuid, item_id uuid, quantity int, tracked boolean, unit_price numeric)
    ), created AS (
        INSERT INTO orders (store_id, id, number, total, customer_name, customer_email, idempotency_key, request_hash, holds_committed)
        SELECT p_store_id, p_order_id, -(1 + nextval('order_number_placeholders') % 2000000000)::int,
               (SELECT coalesce(sum(unit_price * quantity), 0) FROM lines),
               p_customer_name, p_customer_email, p_idempotency_key, p_request_hash, s.accounting_sync
          FROM stores s WHERE s.id = p_store_id
        RETURNING id
    ), created_lines AS (
        INSERT INTO order_lines (store_id, order_id, item_id, variant_id, quantity, unit_price, stock_taken)
        SELECT p_store_id, p_order_id, item_id, variant_id, quantity, unit_price, tracked FROM lines
    )
    INSERT INTO order_line_allocations (store_id, order_id, variant_id, warehouse_id, quantity)
    SELECT p_store_id, p_order_id, (a->>'variantId')::uuid, (a->>'warehouseId')::uuid, (a->>'quantity')::int
      FROM jsonb_array_elements(v_allocations) a;

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
