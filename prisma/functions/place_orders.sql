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
--   2. the items of all the orders, once, in id order (the one global lock order), with those of
--      the cart holds they are placed with, and of the holds on those items past their time, which
--      are ended (EXPIRED: from expiresAt a hold's units block no one);
--   3. each order in batch order: its hold's row, when the order comes with one that is still HELD
--      and in time (after the items: the lock order is items, orders, holds); its lines resolved,
--      checked and allocated (allocate_order_lines(): the hold's units first), and taken
--      (stock_change(): deducted, or committed while accounting sync is on, and what the hold kept
--      given back, its status CONVERTED), or the order refused, its hold left HELD; each order sees
--      the stock the ones before it left;
--   4. the refused orders' placeholders deleted, the placed ones' lines and allocations written;
--   5. last, the store's order counter once for the batch (last_number + orders placed), and the
--      numbers in batch order: the counter row is locked from there to COMMIT only.
-- No lock is held across a round trip to the service. Orders come as parallel arrays, one element
-- each (ids, how many lines, customer, key, request hash, the hold: null for none); their lines
-- follow each other in one set of parallel arrays (item ids, variant ids: null for the item's
-- default, quantities). Answers { "orders": [...], "expired": <end_reservations' answer, or null> },
-- the orders one element per order in the order given, each one of:
--   { "order": <the orders row, Prisma's field names>, "stock": <stock_change's answer> }
--   { "shortages": [{ itemId, variantId, requested, available }] }   (that order changed nothing)
--   { "error": { code, field, message } }                            (that order changed nothing; also
--                                                                     when its stock taken would pass the limit)
--   { "duplicate": true }                                            (its key is another order's)

-- the function of one order a call that this one replaced (a checkout is a batch of one now)
DROP FUNCTION IF EXISTS place_order(UUID, UUID, UUID[], UUID[], INTEGER[], TEXT, TEXT, TEXT, TEXT);

-- the signature before cart holds (no p_reservation_ids)
DROP FUNCTION IF EXISTS place_orders(UUID, UUID[], INTEGER[], TEXT[], TEXT[], TEXT[], TEXT[], UUID[], UUID[], INTEGER[]);

CREATE OR REPLACE FUNCTION place_orders(
    p_store_id UUID,
    p_order_ids UUID[], p_line_counts INTEGER[], p_customer_names TEXT[], p_customer_emails TEXT[],
    p_idempotency_keys TEXT[], p_request_hashes TEXT[], p_reservation_ids UUID[],
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
    -- the order's lines, one per variant (repeats summed), as parallel arrays, and where their units come from
    l_variant UUID[];
    l_item UUID[];
    l_quantity INTEGER[];
    l_price NUMERIC[];
    l_tracked BOOLEAN[];
    -- where their units come from, one element per stock level taken from
    a_variant UUID[];
    a_warehouse UUID[];
    a_quantity INTEGER[];
    -- the stock changes: what the order takes and what its hold gave back, one element per level
    c_variant UUID[];
    c_warehouse UUID[];
    c_take INTEGER[];
    c_reserved INTEGER[];
    v_hold UUID;
    v_stock JSON;
    -- the items the batch works on, and the expired holds on them it ends first
    v_items UUID[];
    v_expired UUID[] := '{}';
    v_ended JSON;
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

    -- 2. the items of the orders' lines and of the holds they are placed with (whatever a hold kept
    -- that its order does not take goes back), and of the holds on them past their time (which
    -- block no one: ended first), locked in the one global lock order, by id; from here on no other
    -- statement changes their stock. A store without holds pays one look-up of an index.
    v_items := p_item_ids;
    IF cardinality(array_remove(p_reservation_ids, NULL)) > 0 THEN
        v_items := v_items || ARRAY(SELECT item_id FROM reservation_lines
                                     WHERE store_id = p_store_id AND reservation_id = ANY(p_reservation_ids));
    END IF;
    SELECT coalesce(array_agg(r.id), '{}') INTO v_expired
      FROM reservations r
     WHERE r.store_id = p_store_id AND r.status = 'HELD' AND r.expires_at <= now()
       AND EXISTS (SELECT 1 FROM reservation_lines rl
                    WHERE rl.store_id = r.store_id AND rl.reservation_id = r.id AND rl.item_id = ANY(v_items));
    IF cardinality(v_expired) > 0 THEN
        v_items := v_items || ARRAY(SELECT item_id FROM reservation_lines
                                     WHERE store_id = p_store_id AND reservation_id = ANY(v_expired));
    END IF;
    PERFORM 1 FROM items WHERE store_id = p_store_id AND id = ANY(v_items) ORDER BY id FOR UPDATE;
    IF cardinality(v_expired) > 0 THEN
        v_ended := end_reservations(p_store_id, v_expired, 'EXPIRED');
    END IF;

    -- 3. each order in batch order
    FOR i IN 1 .. cardinality(p_order_ids) LOOP
        v_last := v_first + p_line_counts[i] - 1;
        v_refusal := NULL;
        v_stock := NULL;
        IF NOT p_order_ids[i] = ANY(v_claimed) THEN
            v_refusal := json_build_object('duplicate', true);
        ELSE
            -- the hold it is placed with, when that is still HELD and in time (its token checked by the
            -- service); otherwise the order goes as one without a hold would
            v_hold := NULL;
            IF p_reservation_ids[i] IS NOT NULL THEN
                SELECT id INTO v_hold FROM reservations
                 WHERE store_id = p_store_id AND id = p_reservation_ids[i] AND status = 'HELD' AND expires_at > now()
                   FOR UPDATE;
            END IF;
            SELECT a.error, a.largest, a.total, a.shortages, a.line_variants, a.line_items, a.line_quantities, a.line_prices,
                   a.line_tracked, a.alloc_variants, a.alloc_warehouses, a.alloc_quantities, a.change_variants,
                   a.change_warehouses, a.change_takes, a.change_reserved
              INTO v_error, v_largest, v_total, v_shortages, l_variant, l_item, l_quantity, l_price, l_tracked,
                   a_variant, a_warehouse, a_quantity, c_variant, c_warehouse, c_take, c_reserved
              FROM allocate_order_lines(p_store_id, p_item_ids[v_first:v_last], p_variant_ids[v_first:v_last],
                                        p_quantities[v_first:v_last], v_hold) a;

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
                -- take the stock: deducted, or committed while accounting sync is on, and give back
                -- what its hold kept; all of it, or (past the limit of a level, variant or item) none
                v_stock := stock_change(p_store_id, c_variant, c_warehouse, NULL, NULL, NULL, c_reserved, NULL, c_take,
                                        true, false, false, true, 'ORDER_PLACED', p_order_ids[i], NULL, NULL, true);
                IF (SELECT bool_and(r->>'reason' LIKE '%\_LIMIT') FROM json_array_elements(v_stock->'refused') r) THEN
                    v_refusal := json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                        'message', 'the order would take a stock count past -1000000000 units (or its committed units past 1000000000)'));
                    v_stock := NULL;
                ELSIF (v_stock->>'levels')::int <> cardinality(c_variant) THEN
                    RAISE EXCEPTION 'stock changed under lock while placing order %', p_order_ids[i];
                ELSIF v_hold IS NOT NULL THEN
                    -- the hold ends with the order that used it
                    UPDATE reservations SET status = 'CONVERTED', order_id = p_order_ids[i], ended_at = now()
                     WHERE store_id = p_store_id AND id = v_hold;
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
    RETURN json_build_object('orders', v_answer, 'expired', v_ended);
END
$$;
