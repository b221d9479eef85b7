-- Ends the store's cart holds of p_ids that are still HELD and gives their units back (SPEC section
-- 9), each exactly once: RELEASED (the shopper or the merchant gave it up; one already past its
-- expiresAt ends EXPIRED, as it had) or EXPIRED (only those past expiresAt). Called by the release
-- mutations and the expiry sweeper (src/orders/reservations.ts), and by place_orders() and
-- reserve_stock() for the expired holds on the items they lock.
--
-- The items of the holds' lines are locked first, in id order (a caller that holds them already
-- takes no new lock), then the holds' rows, by the status change guarded on HELD: whichever of a
-- conversion, a release and an expiry gets there first ends a hold, and the others find it ended
-- and change nothing, in any process. A hold's lines never change, so they can be read before the
-- locks. The units go back through stock_change() (reserved only: no movement).
--
-- Returns { ended: [{ id, status }], stock: <stock_change's answer> }.
CREATE OR REPLACE FUNCTION end_reservations(p_store_id UUID, p_ids UUID[], p_status "ReservationStatus")
RETURNS JSON LANGUAGE plpgsql VOLATILE
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_ended JSON;
    v_ids UUID[];
    v_variants UUID[];
    v_warehouses UUID[];
    v_units INTEGER[];
    v_stock JSON;
BEGIN
    IF p_status NOT IN ('RELEASED', 'EXPIRED') THEN
        RAISE EXCEPTION 'a hold ends RELEASED or EXPIRED here, not %', p_status;
    END IF;
    PERFORM 1 FROM items
     WHERE store_id = p_store_id
       AND id IN (SELECT item_id FROM reservation_lines WHERE store_id = p_store_id AND reservation_id = ANY(p_ids))
     ORDER BY id FOR UPDATE;

    WITH ended AS (
        UPDATE reservations SET status = CASE WHEN expires_at <= now() THEN 'EXPIRED' ELSE p_status END, ended_at = now()
         WHERE store_id = p_store_id AND id = ANY(p_ids) AND status = 'HELD'
           AND (p_status = 'RELEASED' OR expires_at <= now())
        RETURNING id, status
    )
    SELECT coalesce(json_agg(json_build_object('id', id, 'status', status) ORDER BY id), '[]'::json),
           coalesce(array_agg(id), '{}')
      INTO v_ended, v_ids FROM ended;

    SELECT coalesce(array_agg(variant_id ORDER BY variant_id, warehouse_id), '{}'),
           coalesce(array_agg(warehouse_id ORDER BY variant_id, warehouse_id), '{}'),
           coalesce(array_agg(-units ORDER BY variant_id, warehouse_id), '{}')
      INTO v_variants, v_warehouses, v_units
      FROM (SELECT variant_id, warehouse_id, sum(quantity)::int AS units FROM reservation_allocations
             WHERE store_id = p_store_id AND reservation_id = ANY(v_ids) GROUP BY variant_id, warehouse_id) held;

    IF cardinality(v_variants) = 0 THEN
        v_stock := json_build_object('levels', 0, 'variants', '[]'::json, 'refused', '[]'::json);
    ELSE
        -- giving held units back is never refused (whatever the items' settings now)
        v_stock := stock_change(p_store_id, v_variants, v_warehouses, NULL, NULL, NULL, v_units, NULL, NULL,
                                false, false, false, false, NULL, NULL, NULL, NULL, true);
        IF (v_stock->>'levels')::int <> cardinality(v_variants) THEN
            RAISE EXCEPTION 'held units of % could not be given back: %', v_ids, v_stock->'refused';
        END IF;
    END IF;
    RETURN json_build_object('ended', v_ended, 'stock', v_stock);
END
$$;
