-- Applies changes to stock levels of tracked products of the store; the caller holds the items'
-- locks (every statement here reads rows that only the lock holder changes). A change whose level
-- is missing, whose item is untracked, or that the guards or its expected quantity refuse, is
-- left out. Each changed level writes its movement; each changed variant and item gets its new
-- sums (variants over the warehouses that fulfil online orders), availability and version.
-- Returns { levels: <levels changed>, variants: [one row per changed variant, with its item] }.
--
-- src/stock/stock-ledger.ts calls it for every stock change (changeStock), and place_order() for
-- the checkout's: one definition of a stock change.
CREATE OR REPLACE FUNCTION stock_change(
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
