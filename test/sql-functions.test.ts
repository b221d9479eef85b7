import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Prisma } from "../src/generated/prisma/client.ts";
import { applyMigrations, FUNCTIONS_DIR } from "../src/db/migrate.ts";
import { keysOf } from "../src/db/records.ts";
import type { StockShortage } from "../src/errors.ts";
import { createLogger } from "../src/logger.ts";
import type { BatchAnswer } from "../src/orders/place-order.ts";
import type { EndedReservations } from "../src/orders/reservations.ts";
import type { ChangedRow, StockAnswer, StockRefusal } from "../src/stock/stock-ledger.ts";
import { databaseUrl, newItem, newStore, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";

// What the TypeScript that reads each answer expects, key by key (the compiler holds each list to its type).
const CHANGED_ROW = keysOf<ChangedRow>()({
  id: true, itemId: true, quantity: true, committedQuantity: true, reservedQuantity: true, availability: true,
  availabilityBefore: true, version: true, type: true, trackInventory: true, itemQuantity: true, itemCommittedQuantity: true,
  itemReservedQuantity: true, itemAvailability: true, itemAvailabilityBefore: true, itemVersion: true, lowStockAlert: true,
});
const STOCK_ANSWER = keysOf<StockAnswer>()({ levels: true, variants: true, refused: true });
const REFUSAL = keysOf<StockRefusal>()({ change: true, reason: true });
const SHORTAGE = keysOf<StockShortage>()({ itemId: true, variantId: true, requested: true, available: true });
const ORDER = Object.values(Prisma.OrderScalarFieldEnum).sort();
const RESERVATION = Object.values(Prisma.ReservationScalarFieldEnum).sort();
const BATCH = keysOf<BatchAnswer>()({ orders: true, expired: true });
const ENDED = keysOf<EndedReservations>()({ ended: true, stock: true });

/** The names of the functions the files under prisma/functions define, one per file. */
const FILES = readdirSync(FUNCTIONS_DIR).filter((file) => file.endsWith(".sql")).sort();
const definedNames = FILES.map((file) => {
  const created = [...readFileSync(join(FUNCTIONS_DIR, file), "utf8").matchAll(/^CREATE OR REPLACE FUNCTION (\w+)\(/gm)];
  return { file, names: created.map((match) => match[1]) };
});

let server: TestServer;
let store: TestStore;
let pool: pg.Pool;
beforeAll(async () => {
  server = await startTestServer();
  store = await newStore(server.db);
  pool = new pg.Pool({ connectionString: databaseUrl(), max: 2 });
});
afterAll(async () => {
  await pool.end();
  await server.close();
});

describe("the SQL functions under prisma/functions", () => {
  it("are one function a file, named after it, each existing once in the database (no stale overload)", async () => {
    for (const { file, names } of definedNames) expect(names, file).toEqual([file.replace(/\.sql$/, "")]);
    const { rows } = await pool.query<{ name: string; count: string }>(
      `SELECT proname AS name, count(*) AS count FROM pg_proc
        WHERE pronamespace = 'public'::regnamespace AND proname = ANY($1) GROUP BY proname ORDER BY proname`,
      [definedNames.map(({ names }) => names[0])],
    );
    expect(rows.map((row) => [row.name, Number(row.count)])).toEqual(definedNames.map(({ names }) => [names[0], 1]).sort());
  });

  it("are what the database runs after the migrations, and applying them again changes nothing", async () => {
    const definitions = () =>
      pool.query<{ name: string; body: string }>(
        `SELECT proname AS name, pg_get_functiondef(oid) AS body FROM pg_proc
          WHERE pronamespace = 'public'::regnamespace AND proname = ANY($1) ORDER BY proname`,
        [definedNames.map(({ names }) => names[0])],
      );
    const before = (await definitions()).rows;
    for (const { file } of definedNames) {
      const source = readFileSync(join(FUNCTIONS_DIR, file), "utf8");
      const body = /AS \$\$\n([\s\S]*?)\$\$;/.exec(source)![1]!;
      expect(before.find((row) => `${row.name}.sql` === file)!.body, file).toContain(body.trim());
    }
    await applyMigrations(pool, createLogger("silent"));
    expect((await definitions()).rows).toEqual(before);
  });

  /** place_orders() for one order per element of `orders`, of one line each; answers its orders' array. */
  async function placeOrders(orders: { itemId: string; quantity: number; key?: string; reservationId?: string }[]) {
    const { rows } = await pool.query(`SELECT place_orders($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) AS answer`, [
      store.id, orders.map(() => randomUUID()), orders.map(() => 1), orders.map(() => null), orders.map(() => null),
      orders.map((o) => o.key ?? null), orders.map((o) => (o.key ? "hash" : null)), orders.map((o) => o.reservationId ?? null),
      orders.map((o) => o.itemId), orders.map(() => null), orders.map((o) => o.quantity),
    ]);
    expect(Object.keys(rows[0].answer).sort()).toEqual(BATCH);
    return rows[0].answer.orders as any[];
  }

  /** reserve_stock() for a hold of one line; answers what it answered. */
  async function reserve(itemId: string, quantity: number, key: string | null = null) {
    const { rows } = await pool.query(`SELECT reserve_stock($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS answer`, [
      store.id, randomUUID(), Buffer.alloc(32), "sql-functions", key, key && "hash", [itemId], [null], [quantity], 1_000,
    ]);
    return rows[0].answer;
  }

  it("place_orders() answers an order with the keys of Prisma's Order and the stock with those of StockAnswer and ChangedRow", async () => {
    const item = await newItem(server, store, { name: "Taza", quantity: 3 });
    const [answer] = await placeOrders([{ itemId: item.id, quantity: 1 }]);
    expect(Object.keys(answer).sort()).toEqual(["order", "stock"]);
    expect(Object.keys(answer.order).sort()).toEqual(ORDER);
    expect(Object.keys(answer.stock).sort()).toEqual(STOCK_ANSWER);
    expect(answer.stock.variants).toHaveLength(1);
    expect(Object.keys(answer.stock.variants[0]).sort()).toEqual(CHANGED_ROW);
  });

  it("stock_change() answers each change it refused, with the keys of StockRefusal, and changes nothing of an all-or-nothing call", async () => {
    const item = await newItem(server, store, { name: "Plato", quantity: 2 });
    const { rows: levels } = await pool.query(
      `SELECT l.variant_id AS "variantId", l.warehouse_id AS "warehouseId" FROM stock_levels l JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
        WHERE l.store_id = $1 AND v.item_id = $2`,
      [store.id, item.id],
    );
    const { variantId, warehouseId } = levels[0];
    const { rows } = await pool.query(
      `SELECT stock_change($1, $2, $3, NULL, $4, NULL, NULL, NULL, NULL, false, false, false, true, 'MANUAL_ADJUSTMENT', NULL, NULL, NULL, true) AS answer`,
      [store.id, [variantId, randomUUID()], [warehouseId, warehouseId], [1, 1]],
    );
    const answer = rows[0].answer;
    expect(Object.keys(answer).sort()).toEqual(STOCK_ANSWER);
    expect(answer.levels).toBe(0);
    expect(answer.refused).toEqual([{ change: 1, reason: "NOT_FOUND" }]);
    expect(Object.keys(answer.refused[0]).sort()).toEqual(REFUSAL);
  });

  it("place_orders() answers shortages with the keys of StockShortage, errors with code, field and message, a held key as duplicate, one answer per order in order", async () => {
    const item = await newItem(server, store, { name: "Gorra", quantity: 1 });
    const key = randomUUID();
    const answers = await placeOrders([
      { itemId: item.id, quantity: 2 },
      { itemId: randomUUID(), quantity: 1 },
      { itemId: item.id, quantity: 1, key },
      { itemId: item.id, quantity: 1, key },
    ]);
    expect(answers.map((answer) => Object.keys(answer).sort())).toEqual([["shortages"], ["error"], ["order", "stock"], ["duplicate"]]);
    expect(Object.keys(answers[0].shortages[0]).sort()).toEqual(SHORTAGE);
    expect(Object.keys(answers[1].error).sort()).toEqual(["code", "field", "message"]);
    expect(answers[3]).toEqual({ duplicate: true });
  });

  it("reserve_stock() answers a hold with the keys of Prisma's Reservation and the stock with those of StockAnswer, a refusal as an order's, a held key as duplicate", async () => {
    const item = await newItem(server, store, { name: "Cinturón", quantity: 2 });
    const key = randomUUID();
    const held = await reserve(item.id, 1, key);
    expect(Object.keys(held).sort()).toEqual(["expired", "reservation", "stock"]);
    expect(Object.keys(held.reservation).sort()).toEqual(RESERVATION);
    expect(Object.keys(held.stock).sort()).toEqual(STOCK_ANSWER);
    expect(Object.keys(held.stock.variants[0]).sort()).toEqual(CHANGED_ROW);
    expect(held.stock.variants[0]).toMatchObject({ quantity: 2, reservedQuantity: 1 });
    expect(await reserve(item.id, 1, key)).toEqual({ duplicate: true, expired: null });
    const short = await reserve(item.id, 5);
    expect(Object.keys(short).sort()).toEqual(["expired", "shortages"]);
    expect(Object.keys(short.shortages[0]).sort()).toEqual(SHORTAGE);
    const unknown = await reserve(randomUUID(), 1);
    expect(Object.keys(unknown.error).sort()).toEqual(["code", "field", "message"]);
  });

  it("end_reservations() answers the holds it ended, with their status, and the units it gave back as StockAnswer; a second call ends none", async () => {
    const item = await newItem(server, store, { name: "Bufanda", quantity: 3 });
    const held = await reserve(item.id, 2);
    const end = async () => (await pool.query(`SELECT end_reservations($1, $2, 'RELEASED') AS answer`, [store.id, [held.reservation.id]])).rows[0].answer;
    const first = await end();
    expect(Object.keys(first).sort()).toEqual(ENDED);
    expect(first.ended).toEqual([{ id: held.reservation.id, status: "RELEASED" }]);
    expect(Object.keys(first.stock).sort()).toEqual(STOCK_ANSWER);
    expect(first.stock.variants[0]).toMatchObject({ quantity: 3, reservedQuantity: 0 });
    expect((await end()).ended).toEqual([]);
  });

  it("place_orders() with a hold takes its units and answers as any order", async () => {
    const item = await newItem(server, store, { name: "Guantes", quantity: 1 });
    const held = await reserve(item.id, 1);
    const [answer] = await placeOrders([{ itemId: item.id, quantity: 1, reservationId: held.reservation.id }]);
    expect(Object.keys(answer).sort()).toEqual(["order", "stock"]);
    expect(answer.stock.variants[0]).toMatchObject({ quantity: 0, reservedQuantity: 0 });
  });
});
