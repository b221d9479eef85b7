-- A cart hold (SPEC section 9) in one call, its own transaction: the units of the lines kept for one
-- shopper until now() + the store's reservation_minutes, all lines or nothing, following the order
-- rules (allocate_order_lines(): SOLD_OUT and HIDDEN refused, at most what is available of an item
-- without "Vender sin Stock", services and untracked items held without units, units allocated
-- across the fulfilling warehouses in ascending priority). Called by src/orders/reservations.ts.
-- In this order, the order every transaction takes its locks in:
--   1. the hold's row, under its idempotency key (a key another hold has leaves this one out,
--      answered { "duplicate": true }, for the service to answer with that hold);
--   2. the client's cap: a transaction-scoped advisory lock on the store and client, taken by holds
--      only and before any item, so that a client's holds are counted one at a time (at most
--      p_max_active HELD and in time);
--   3. the items of the lines, and of the holds on them past their time, in id order; those holds
--      ended (EXPIRED: their units block no one);
--   4. the lines allocated, written, and their units held through stock_change() (reserved: no
--      movement), or the hold refused and its row deleted.
-- Answers { "expired": <end_reservations' answer, or null> } with one of
--   "reservation": <the reservations row, Prisma's field names>, "stock": <stock_change's answer>
--   "shortages": [{ itemId, variantId, requested, available }]
--   "error": { code, field, message }          (RESERVATIONS_OFF, INVALID_INPUT, NOT_FOUND)
--   "duplicate": true
DROP FUNCTION IF EXISTS reserve_stock(UUID, UUID, BYTEA, TEXT, TEXT, TEXT, UUID[], UUID[], INTEGER[], INTEGER);
CREATE OR REPLACE FUNCTION reserve_stock(
    p_store_id UUID, p_reservation_id UUID, p_token_hash BYTEA, p_client_key TEXT,
    p_idempotency_key TEXT, p_request_hash TEXT,
    p_item_ids UUID[], p_variant_ids UUID[], p_quantities INTEGER[], p_max_active INTEGER
) RETURNS JSON LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_minutes INTEGER;
    v_claimed UUID;
    v_active INTEGER;
    v_items UUID[];
    v_expired UUID[];
    v_ended JSON;
    v_lines RECORD;
    v_refusal JSON;
    v_stock JSON;
    v_row JSON;
BEGIN
    SELECT reservation_minutes INTO v_minutes FROM stores WHERE id = p_store_id;
    IF v_minutes IS NULL OR v_minutes <= 0 THEN
        RETURN json_build_object('error', json_build_object('code', 'RESERVATIONS_OFF', 'field', NULL,
                                                            'message', 'this store holds no stock for carts'),
                                 'expired', NULL);
    END IF;

    -- 1. the hold, under its key
    INSERT INTO reservations (store_id, id, token_hashes, client_key, idempotency_key, request_hash, expires_at)
    VALUES (p_store_id, p_reservation_id, ARRAY[p_token_hash], p_client_key, p_idempotency_key, p_request_hash,
            now() + make_interval(mins => v_minutes))
    ON CONFLICT (store_id, idempotency_key) DO NOTHING
    RETURNING id INTO v_claimed;
    IF v_claimed IS NULL THEN
        RETURN json_build_object('duplicate', true, 'expired', NULL);
    END IF;

    -- 2. the client's cap, counted under the client's lock (whoever held it before has committed)
    -- (its own lock space: any constant, the same in every process; the others are in src/db and src/stock)
    PERFORM pg_advisory_xact_lock(727465005, hashtext(p_store_id::text || '/' || p_client_key));
    SELECT count(*) INTO v_active FROM reservations
     WHERE store_id = p_store_id AND client_key = p_client_key AND status = 'HELD' AND expires_at > now()
       AND id <> p_reservation_id;
    IF v_active >= p_max_active THEN
        v_refusal := json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', NULL,
            'message', format('a shopper holds at most %s carts in a store at once: place or release one of them first', p_max_active)));
    END IF;

    -- 3. the items, and the holds on them past their time
    IF v_refusal IS NULL THEN
        SELECT coalesce(array_agg(r.id), '{}') INTO v_expired
          FROM reservations r
         WHERE r.store_id = p_store_id AND r.status = 'HELD' AND r.expires_at <= now()
           AND EXISTS (SELECT 1 FROM reservation_lines rl
                        WHERE rl.store_id = r.store_id AND rl.reservation_id = r.id AND rl.item_id = ANY(p_item_ids));
        v_items := p_item_ids || ARRAY(SELECT item_id FROM reservation_lines
                                        WHERE store_id = p_store_id AND reservation_id = ANY(v_expired));
        PERFORM 1 FROM items WHERE store_id = p_store_id AND id = ANY(v_items) ORDER BY id FOR UPDATE;
        IF cardinality(v_expired) > 0 THEN
            v_ended := end_reservations(p_store_id, v_expired, 'EXPIRED');
        END IF;

        -- 4. the lines, as an order's
        SELECT * INTO v_lines FROM allocate_order_lines(p_store_id, p_item_ids, p_variant_ids, p_quantities, NULL);
        IF v_lines.error IS NOT NULL THEN
            v_refusal := json_build_object('error', v_lines.error);
        ELSIF v_lines.largest > 10000 THEN
            v_refusal := json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                                                                      'message', 'at most 10000 units of one variant per hold'));
        ELSIF v_lines.shortages IS NOT NULL THEN
            v_refusal := json_build_object('shortages', v_lines.shortages);
        ELSE
            INSERT INTO reservation_lines (store_id, reservation_id, item_id, variant_id, quantity)
            SELECT p_store_id, p_reservation_id, l.item_id, l.variant_id, l.quantity
              FROM unnest(v_lines.line_items, v_lines.line_variants, v_lines.line_quantities) AS l(item_id, variant_id, quantity);
            INSERT INTO reservation_allocations (store_id, reservation_id, variant_id, warehouse_id, quantity)
            SELECT p_store_id, p_reservation_id, a.variant_id, a.warehouse_id, a.quantity
              FROM unnest(v_lines.alloc_variants, v_lines.alloc_warehouses, v_lines.alloc_quantities) AS a(variant_id, warehouse_id, quantity);
            -- all of it, or (past the limit of a level, variant or item) none
            v_stock := stock_change(p_store_id, v_lines.alloc_variants, v_lines.alloc_warehouses, NULL, NULL, NULL,
                                    v_lines.alloc_quantities, NULL, NULL, true, false, false, true, NULL, NULL, NULL, NULL, true);
            IF (SELECT bool_and(r->>'reason' LIKE '%\_LIMIT') FROM json_array_elements(v_stock->'refused') r) THEN
                v_refusal := json_build_object('error', json_build_object('code', 'INVALID_INPUT', 'field', 'lines',
                    'message', 'the hold would take a stock level''s committed and held units past 1000000000'));
            ELSIF (v_stock->>'levels')::int <> cardinality(v_lines.alloc_variants) THEN
                RAISE EXCEPTION 'stock changed under lock while holding %', p_reservation_id;
            END IF;
        END IF;
    END IF;

    IF v_refusal IS NOT NULL THEN
        -- a refused hold leaves nothing (its lines go with it, its key is free again); the holds it
        -- ended stay ended
        DELETE FROM reservations WHERE store_id = p_store_id AND id = p_reservation_id;
        RETURN (v_refusal::jsonb || jsonb_build_object('expired', v_ended))::json;
    END IF;
    SELECT json_build_object('storeId', r.store_id, 'id', r.id, 'status', r.status, 'tokenHashes', '[]'::json,
                             'clientKey', r.client_key, 'idempotencyKey', r.idempotency_key, 'requestHash', r.request_hash,
                             'expiresAt', r.expires_at, 'orderId', r.order_id, 'createdAt', r.created_at, 'endedAt', r.ended_at)
      INTO v_row FROM reservations r WHERE r.store_id = p_store_id AND r.id = p_reservation_id;
    RETURN json_build_object('reservation', v_row, 'stock', v_stock, 'expired', v_ended);
END
$$;
