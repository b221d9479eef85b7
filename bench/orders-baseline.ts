/**
 * The raw floor for placing an order: the checkout's transaction as plain SQL through `pg`, no
 * GraphQL, no ORM, no HTTP. Run as a process of its own by bench/orders.ts:
 *
 *   tsx bench/orders-baseline.ts '{"databaseUrl":...,"storeId":...,"concurrency":16,"durationMs":15000,"warmupMs":2000}'
 *
 * It keeps `concurrency` transactions in flight for the duration and prints one JSON line with
 * the orders committed per second. The statements keep the checkout's semantics (SPEC section 2):
 * BEGIN; lock the order's items in id order; refuse short lines; take the stock with a guarded
 * update that recomputes availability and bumps version; write the ORDER_PLACED movements; take
 * the store's next order number; insert the order and its lines; COMMIT. It is deliberately the
 * plain way to write it, one statement per step, and it does not change when the service does.
 */
import { randomUUID } from "node:crypto";
import pg from "pg";
import { busyPercent, machineCpu } from "./support.ts";

type Options = { databaseUrl: string; storeId: string; concurrency: number; durationMs: number; warmupMs: number };
type Line = { itemId: string; quantity: number };

async function placeOrderRaw(client: pg.PoolClient, storeId: string, lines: Line[]): Promise<boolean> {
  const ids = lines.map((line) => line.itemId);
  const quantities = lines.map((line) => line.quantity);
  await client.query("BEGIN");
  try {
    const locked = await client.query<{ id: string; sell_without_stock: boolean; available: number; availability: string }>(
      `SELECT i.id, i.sell_without_stock, i.availability, i.quantity - i.committed_quantity AS available
         FROM items i WHERE i.store_id = $1 AND i.id = ANY($2::uuid[]) ORDER BY i.id FOR UPDATE`,
      [storeId, ids],
    );
    const byId = new Map(locked.rows.map((row) => [row.id, row]));
    for (const line of lines) {
      const item = byId.get(line.itemId);
      if (!item) throw new Error("item not found");
      if (!item.sell_without_stock && (item.availability === "SOLD_OUT" || item.availability === "HIDDEN" || line.quantity > item.available)) {
        await client.query("ROLLBACK");
        return false;
      }
    }
    const orderId = randomUUID();
    const taken = await client.query<{ id: string; quantity: number; taken: number }>(
      `UPDATE items i SET
         quantity = i.quantity - l.quantity,
         availability = item_availability(i.type, i.track_inventory, i.quantity - l.quantity - i.committed_quantity, i.sell_without_stock, s.out_of_stock_behavior),
         version = i.version + 1,
         updated_at = now()
       FROM unnest($2::uuid[], $3::int[]) AS l(item_id, quantity), stores s
       WHERE i.store_id = $1 AND i.id = l.item_id AND s.id = $1
         AND (i.sell_without_stock OR i.quantity - l.quantity - i.committed_quantity >= 0)
       RETURNING i.id, i.quantity, l.quantity AS taken`,
      [storeId, ids, quantities],
    );
    if (taken.rowCount !== lines.length) throw new Error("stock changed under lock");
    await client.query(
      `INSERT INTO stock_movements (store_id, item_id, delta, quantity_after, reason, order_id)
       SELECT $1, item_id, -taken, quantity_after, 'ORDER_PLACED', $5 FROM unnest($2::uuid[], $3::int[], $4::int[]) AS m(item_id, taken, quantity_after)`,
      [storeId, taken.rows.map((row) => row.id), taken.rows.map((row) => row.taken), taken.rows.map((row) => row.quantity), orderId],
    );
    const numbered = await client.query<{ last_order_number: number }>(
      "UPDATE stores SET last_order_number = last_order_number + 1 WHERE id = $1 RETURNING last_order_number",
      [storeId],
    );
    await client.query(
      `WITH line AS (
         SELECT l.item_id, l.quantity, i.price FROM unnest($4::uuid[], $5::int[]) AS l(item_id, quantity)
           JOIN items i ON i.store_id = $1 AND i.id = l.item_id
       ), created AS (
         INSERT INTO orders (store_id, id, number, total) SELECT $1, $2, $3, coalesce(sum(price * quantity), 0) FROM line
       )
       INSERT INTO order_lines (store_id, order_id, item_id, quantity, unit_price, stock_taken)
       SELECT $1, $2, item_id, quantity, price, true FROM line`,
      [storeId, orderId, numbered.rows[0]!.last_order_number, ids, quantities],
    );
    await client.query("COMMIT");
    return true;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    throw error;
  }
}

async function main() {
  const options = JSON.parse(process.argv[2]!) as Options;
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.concurrency });
  const { rows } = await pool.query<{ id: string }>("SELECT id FROM items WHERE store_id = $1 ORDER BY id", [options.storeId]);
  const itemIds = rows.map((row) => row.id);
  // one item: every order on it (hot); many: a random item per order (spread)
  const nextLines = (): Line[] => [{ itemId: itemIds[itemIds.length === 1 ? 0 : Math.floor(Math.random() * itemIds.length)]!, quantity: 1 }];

  let counting = false;
  let committed = 0;
  let refused = 0;
  let failed = 0;
  const warmupEnd = Date.now() + options.warmupMs;
  const end = warmupEnd + options.durationMs;
  const worker = async () => {
    while (Date.now() < end) {
      const client = await pool.connect();
      try {
        const ok = await placeOrderRaw(client, options.storeId, nextLines());
        if (counting) ok ? committed++ : refused++;
      } catch {
        if (counting) failed++;
      } finally {
        client.release();
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  await new Promise((resolve) => setTimeout(resolve, options.warmupMs));
  counting = true;
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineCpu();
  await Promise.all(workers);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const machineBusy = busyPercent(machineBefore, machineCpu());
  await pool.end();
  const cpuMsPerOrder = (cpu.user + cpu.system) / 1000 / committed;
  process.stdout.write(`${JSON.stringify({ perSec: committed / seconds, committed, refused, failed, seconds, cpuMsPerOrder, machineBusy })}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
