-- The limit rule of stock, in one place (stock_change() holds every level, variant and item to
-- it; refreshVariants in src/stock/stock-ledger.ts every re-summed variant and item): a quantity
-- or committed quantity after a change is within +-1e9 (src/validation.ts MAX_ABS_QUANTITY), so
-- that no sum of them, and no quantity - committed, overflows a 32-bit integer; or it is no
-- further from 0 than before the change (a value already past the limit, from data older than
-- the rule, may only come back).
CREATE OR REPLACE FUNCTION within_stock_limit(after BIGINT, before BIGINT) RETURNS BOOLEAN LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT abs(after) <= 1000000000 OR abs(after) <= abs(before)
$$;
