-- Applies changes to stock levels of tracked products of the store; the caller holds the items'
-- locks (every statement here reads rows that only the lock holder changes). A change whose level
-- is missing, whose item is untracked, that the store's accounting sync, its expected quantity,
-- the available guard or the limit rule refuses, is left out (with p_all_or_nothing, every change
-- is left out then). Each changed level writes its movement; each changed variant and item gets
-- its new sums (variants over the warehouses that fulfil online orders), availability and version.
--
-- Cart holds (SPEC section 9) change a level's reserved units (p_add_reserved), never its
-- quantity, so they write no movement; available is quantity - committed - reserved, for
-- availability and low stock alike. Giving held units back (a change that only lowers reserved)
-- applies whatever the item's settings are now, as returning an order's units does.
--
-- The limit rule (within_stock_limit()), here for every path that changes stock: every level's
-- quantity, committed quantity and committed + reserved (so that available fits an integer),
-- every variant's sums over the fulfilling warehouses and every item's sums over its variants. A
-- change that would take one past the limit is refused, with every change of the same variant
-- (for a variant's sum) or item (for an item's). The available guard refuses only changes that
-- lower a level's units below zero: quantity - committed for every change (the merchant's counts
-- are held to what orders took, not to what carts hold), and quantity - committed - reserved too
-- for what a shopper takes or holds. Units coming in are always taken.
--
-- Each changed variant's low_stock flag follows is_low_stock(), and a variant that turns low records
-- a low-stock alert (under its item's lock, so once per crossing), which its row carries.
--
-- Returns { levels: <levels changed>, variants: [one row per changed variant, with its item and its alert],
-- refused: [{ change: <its index in the arrays, from 0>, reason }] } where reason is one of
-- NOT_FOUND, NOT_TRACKED, MANAGED_BY_ACCOUNTING, STALE_QUANTITY, BELOW_ZERO, LEVEL_LIMIT,
-- VARIANT_LIMIT, ITEM_LIMIT (the changes left out only because of another's are not listed).
--
-- src/stock/stock-ledger.ts calls it for every stock change (changeStock), and place_orders() for
-- the checkout's: one definition of a stock change.
DROP FUNCTION IF EXISTS stock_change(UUID, UUID[], UUID[], INTEGER[], INTEGER[], INTEGER[], INTEGER[], INTEGER[],
                                     BOOLEAN, BOOLEAN, BOOLEAN, BOOLEAN, "StockMovementReason", UUID, UUID, TEXT);
-- the signature before cart holds (no p_add_reserved)
DROP FUNCTION IF EXISTS stock_change(UUID, UUID[], UUID[], INTEGER[], INTEGER[], INTEGER[], INTEGER[], INTEGER[],
                                     BOOLEAN, BOOLEAN, BOOLEAN, BOOLEAN, "StockMovementReason", UUID, UUID, TEXT, BOOLEAN);
CREATE OR REPLACE FUNCTION stock_change(
    p_store_id UUID,
    p_variant_ids UUID[], p_warehouse_ids UUID[], p_set INTEGER[], p_add INTEGER[], p_add_committed INTEGER[],
    p_add_reserved INTEGER[], p_expected INTEGER[], p_take INTEGER[],
    p_keep_available BOOLEAN, p_never_below_zero BOOLEAN, p_refuse_when_synced BOOLEAN, p_only_tracked BOOLEAN,
    p_reason "StockMovementReason", p_order_id UUID, p_transfer_id UUID, p_note TEXT,
    p_all_or_nothing BOOLEAN DEFAULT false
) RETURNS JSON LANGUAGE plpgsql VOLATILE
-- one plan, kept for the session from the first call (planning this statement costs several times running it)
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    v_answer JSON;
BEGIN
-- plpgsql, not sql: the statement's plan is kept for the session (a SQL function plans it anew
-- at every call)
WITH c AS (
    SELECT (c.n - 1)::int AS n, c.variant_id, c.warehouse_id, c.set_quantity, coalesce(c.add_quantity, 0) AS add_quantity,
           coalesce(c.add_committed, 0) AS add_committed, coalesce(c.add_reserved, 0) AS add_reserved, c.expected_quantity,
           coalesce(c.take, 0) AS take,
           -- only gives held units back
           (c.set_quantity IS NULL AND coalesce(c.add_quantity, 0) = 0 AND coalesce(c.add_committed, 0) = 0
            AND coalesce(c.take, 0) = 0 AND coalesce(c.add_reserved, 0) < 0) AS releases_only
      FROM unnest(p_variant_ids, p_warehouse_ids, p_set, p_add, p_add_committed, p_add_reserved, p_expected, p_take) WITH ORDINALITY
        AS c(variant_id, warehouse_id, set_quantity, add_quantity, add_committed, add_reserved, expected_quantity, take, n)
), after AS (
    -- in bigint: a change is checked against the limits before anything is stored in an integer
    SELECT c.*, o.quantity AS quantity_before, o.committed_quantity AS committed_before, o.reserved_quantity AS reserved_before,
           o.item_id, o.fulfils, s.accounting_sync, o.sell_without_stock,
           coalesce(c.set_quantity, o.quantity::bigint + c.add_quantity - CASE WHEN s.accounting_sync THEN 0 ELSE c.take END) AS quantity_after,
           o.committed_quantity::bigint + c.add_committed + CASE WHEN s.accounting_sync THEN c.take ELSE 0 END AS committed_after,
           o.reserved_quantity::bigint + c.add_reserved AS reserved_after,
           CASE WHEN o.quantity IS NULL THEN 'NOT_FOUND'
                WHEN o.type <> 'PRODUCT' OR (p_only_tracked AND NOT o.track_inventory AND NOT c.releases_only) THEN 'NOT_TRACKED'
                WHEN p_refuse_when_synced AND s.accounting_sync THEN 'MANAGED_BY_ACCOUNTING'
                WHEN c.expected_quantity IS NOT NULL AND o.quantity <> c.expected_quantity THEN 'STALE_QUANTITY'
           END AS refused
      FROM c
      JOIN stores s ON s.id = p_store_id
      LEFT JOIN LATERAL (
          SELECT l.quantity, l.committed_quantity, l.reserved_quantity, v.item_id, w.fulfils_online_orders AS fulfils, i.type, i.track_inventory,
                 i.sell_without_stock
            FROM stock_levels l
            JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
            JOIN items i ON i.store_id = v.store_id AND i.id = v.item_id
            JOIN warehouses w ON w.store_id = l.store_id AND w.id = l.warehouse_id
           WHERE l.store_id = p_store_id AND l.variant_id = c.variant_id AND l.warehouse_id = c.warehouse_id) o ON true
), levels AS (
    SELECT a.*, coalesce(a.refused, CASE
               WHEN p_keep_available AND NOT (a.sell_without_stock AND NOT p_never_below_zero)
                    AND (a.quantity_after - a.committed_after < least(0, a.quantity_before - a.committed_before)
                         OR ((a.take > 0 OR a.add_reserved > 0)
                             AND a.quantity_after - a.committed_after - a.reserved_after
                                 < least(0, a.quantity_before - a.committed_before - a.reserved_before))) THEN 'BELOW_ZERO'
               WHEN NOT (within_stock_limit(a.quantity_after, a.quantity_before)
                         AND within_stock_limit(a.committed_after, a.committed_before)
                         AND within_stock_limit(a.committed_after + a.reserved_after, a.committed_before + a.reserved_before)) THEN 'LEVEL_LIMIT'
           END) AS level_refused
      FROM after a
), variant_sums AS (
    -- each variant's sums as the changes its levels may make would leave them
    SELECT l.variant_id, l.item_id, v.quantity AS quantity_before, v.committed_quantity AS committed_before,
           v.reserved_quantity AS reserved_before,
           v.quantity + coalesce(sum(l.quantity_after - l.quantity_before) FILTER (WHERE l.fulfils), 0)::bigint AS quantity_after,
           v.committed_quantity + coalesce(sum(l.committed_after - l.committed_before) FILTER (WHERE l.fulfils), 0)::bigint AS committed_after,
           v.reserved_quantity + coalesce(sum(l.reserved_after - l.reserved_before) FILTER (WHERE l.fulfils), 0)::bigint AS reserved_after
      FROM levels l JOIN variants v ON v.store_id = p_store_id AND v.id = l.variant_id
     WHERE l.level_refused IS NULL
     GROUP BY l.variant_id, l.item_id, v.quantity, v.committed_quantity, v.reserved_quantity
), variant_verdicts AS (
    SELECT vs.*,
           NOT (within_stock_limit(vs.quantity_after, vs.quantity_before)
                AND within_stock_limit(vs.committed_after, vs.committed_before)
                AND within_stock_limit(vs.committed_after + vs.reserved_after, vs.committed_before + vs.reserved_before)) AS beyond
      FROM variant_sums vs
), item_verdicts AS (
    SELECT vv.item_id,
           NOT (within_stock_limit(i.quantity + sum(vv.quantity_after - vv.quantity_before)::bigint, i.quantity)
                AND within_stock_limit(i.committed_quantity + sum(vv.committed_after - vv.committed_before)::bigint, i.committed_quantity)
                AND within_stock_limit(i.committed_quantity + i.reserved_quantity
                                         + sum(vv.committed_after - vv.committed_before + vv.reserved_after - vv.reserved_before)::bigint,
                                       i.committed_quantity + i.reserved_quantity)) AS beyond
      FROM variant_verdicts vv JOIN items i ON i.store_id = p_store_id AND i.id = vv.item_id
     WHERE NOT vv.beyond
     GROUP BY vv.item_id, i.quantity, i.committed_quantity, i.reserved_quantity
), verdicts AS (
    SELECT l.*, coalesce(l.level_refused, CASE WHEN vv.beyond THEN 'VARIANT_LIMIT' WHEN iv.beyond THEN 'ITEM_LIMIT' END) AS reason
      FROM levels l
      LEFT JOIN variant_verdicts vv ON vv.variant_id = l.variant_id
      LEFT JOIN item_verdicts iv ON iv.item_id = l.item_id
), allowed AS (
    SELECT * FROM verdicts a
     WHERE a.reason IS NULL AND NOT (p_all_or_nothing AND EXISTS (SELECT 1 FROM verdicts r WHERE r.reason IS NOT NULL))
), changed_levels AS (
    UPDATE stock_levels l SET quantity = a.quantity_after, committed_quantity = a.committed_after, reserved_quantity = a.reserved_after
      FROM allowed a
     WHERE l.store_id = p_store_id AND l.variant_id = a.variant_id AND l.warehouse_id = a.warehouse_id
    RETURNING l.variant_id, l.warehouse_id, a.item_id, a.fulfils, l.quantity,
              a.quantity_after - a.quantity_before AS delta, a.committed_after - a.committed_before AS committed_delta,
              a.reserved_after - a.reserved_before AS reserved_delta,
              (a.set_quantity IS NOT NULL OR a.add_quantity <> 0 OR (a.take <> 0 AND NOT a.accounting_sync)) AS moves_quantity
), variant_deltas AS (
    SELECT variant_id, item_id,
           coalesce(sum(delta) FILTER (WHERE fulfils), 0)::bigint AS quantity,
           coalesce(sum(committed_delta) FILTER (WHERE fulfils), 0)::bigint AS committed,
           coalesce(sum(reserved_delta) FILTER (WHERE fulfils), 0)::bigint AS reserved
      FROM changed_levels GROUP BY variant_id, item_id
), changed_variants AS (
    UPDATE variants v SET
        quantity = v.quantity + d.quantity,
        committed_quantity = v.committed_quantity + d.committed,
        reserved_quantity = v.reserved_quantity + d.reserved,
        availability = item_availability(i.type, i.track_inventory,
                                         ((v.quantity + d.quantity) - (v.committed_quantity + d.committed) - (v.reserved_quantity + d.reserved))::int,
                                         i.sell_without_stock, s.out_of_stock_behavior),
        low_stock = is_low_stock(i.type, i.track_inventory,
                                 ((v.quantity + d.quantity) - (v.committed_quantity + d.committed) - (v.reserved_quantity + d.reserved))::int,
                                 v.low_stock_threshold, s.low_stock_threshold),
        version = v.version + 1,
        updated_at = now()
      FROM variant_deltas d, variants ov, items i, stores s
     WHERE v.store_id = p_store_id AND v.id = d.variant_id AND ov.store_id = v.store_id AND ov.id = v.id
       AND i.store_id = v.store_id AND i.id = v.item_id AND s.id = v.store_id
    RETURNING v.id, v.item_id, v.quantity, v.committed_quantity, v.reserved_quantity, v.availability, v.version,
              ov.availability AS availability_before,
              v.low_stock AND NOT ov.low_stock AS turned_low, coalesce(v.low_stock_threshold, s.low_stock_threshold) AS threshold
), alerted AS (
    -- low stock (is_low_stock()): a variant that turned low records its alert; one that rose above
    -- its threshold, or lost it, is not low any more and will alert again when it next turns low
    INSERT INTO low_stock_alerts (store_id, item_id, variant_id, available_quantity, threshold)
    SELECT p_store_id, cv.item_id, cv.id, cv.quantity - cv.committed_quantity - cv.reserved_quantity, cv.threshold
      FROM changed_variants cv WHERE cv.turned_low
    RETURNING id, variant_id, available_quantity, threshold, created_at
), item_deltas AS (
    SELECT item_id, sum(quantity)::bigint AS quantity, sum(committed)::bigint AS committed, sum(reserved)::bigint AS reserved
      FROM variant_deltas GROUP BY item_id
), changed_items AS (
    UPDATE items i SET
        quantity = i.quantity + d.quantity,
        committed_quantity = i.committed_quantity + d.committed,
        reserved_quantity = i.reserved_quantity + d.reserved,
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
    RETURNING i.id, i.type, i.track_inventory, i.quantity, i.committed_quantity, i.reserved_quantity, i.availability, i.version,
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
        'reservedQuantity', v.reserved_quantity, 'availability', v.availability, 'availabilityBefore', v.availability_before, 'version', v.version,
        'type', i.type, 'trackInventory', i.track_inventory, 'itemQuantity', i.quantity,
        'itemCommittedQuantity', i.committed_quantity, 'itemReservedQuantity', i.reserved_quantity, 'itemAvailability', i.availability,
        'itemAvailabilityBefore', i.availability_before, 'itemVersion', i.version,
        'lowStockAlert', (SELECT json_build_object('id', a.id::text, 'availableQuantity', a.available_quantity,
                                                   'threshold', a.threshold, 'at', a.created_at)
                            FROM alerted a WHERE a.variant_id = v.id))), '[]'::json)
      FROM changed_variants v JOIN changed_items i ON i.id = v.item_id),
    'refused', (SELECT coalesce(json_agg(json_build_object('change', n, 'reason', reason) ORDER BY n), '[]'::json)
                  FROM verdicts WHERE reason IS NOT NULL))
  INTO v_answer;
RETURN v_answer;
END
$$;
