import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseCsv } from "../src/admin/client/csv.ts";
import { applyChanges, planImport, readSheet, skusOf, type BulkAnswer, type BulkEntry, type SheetLevel } from "../src/admin/client/inventory-sheet.ts";
import { SET_QUANTITIES, STOCK_LEVELS_BY_SKU } from "../src/admin/client/api.ts";
import { gql, gqlData, newItem, newStore, placeOrder, startTestServer, storesWithBalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";
import { levelQuantity, mainWarehouseOf, newWarehouse, tshirt } from "./support/variants.ts";

/**
 * The console's Importar (src/admin/client/inventory-sheet.ts) as plain functions: the sheet
 * read the ways spreadsheets save it, matched and previewed against a real store, and applied
 * through the real setItemQuantities in calls of 250 (the Chromium test drives the screen).
 */

let server: TestServer;
beforeAll(async () => (server = await startTestServer()));
afterAll(async () => server.close());
const store = storesWithBalancedLedgers(() => server);

const exported = async (s: TestStore) =>
  (await fetch(`${server.url}/admin/inventory.csv`, { headers: { authorization: `Bearer ${s.token}` } })).text();

async function lookUp(s: TestStore, skus: string[]): Promise<SheetLevel[]> {
  return (await gqlData(server.url, STOCK_LEVELS_BY_SKU, { skus }, s.token)).stockLevelsBySku;
}

async function warehousesOf(s: TestStore) {
  const data = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { inventorySettings { warehouses { id name } } } }`, { slug: s.slug }, s.token);
  return data.store.inventorySettings.warehouses as { id: string; name: string }[];
}

const sendTo = (s: TestStore) => async (entries: BulkEntry[]): Promise<BulkAnswer> =>
  (await gqlData(server.url, SET_QUANTITIES, { input: { entries, note: "Importado de inventario.csv" } }, s.token)).setItemQuantities;

/** The export as Excel saves it in a Spanish locale: BOM, semicolons, CRLF, quotes where a field needs them. */
function asExcelWrites(csv: string, edit: (fields: string[]) => string[] = (fields) => fields): string {
  const quote = (field: string) => (/[;"\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field);
  return "\ufeff" + parseCsv(csv).rows.map((fields, index) => (index === 0 ? fields : edit(fields)).map(quote).join(";")).join("\r\n") + "\r\n";
}

describe("reading the sheet", () => {
  it("reads comma or semicolon files, with or without BOM, quoted fields with quotes, separators and line breaks inside", () => {
    const excel = '\ufeffsku;producto;variante;bodega;bodega_id;cantidad\r\nA-1;"Bolso ""Grande""; cuero";"";"Bodega\r\nNorte";;7\r\n\r\nB-2;Taza;;Principal;w1; 3 \r\n';
    expect(parseCsv(excel)).toEqual({
      delimiter: ";",
      rows: [
        ["sku", "producto", "variante", "bodega", "bodega_id", "cantidad"],
        ["A-1", 'Bolso "Grande"; cuero', "", "Bodega\r\nNorte", "", "7"],
        ["B-2", "Taza", "", "Principal", "w1", " 3 "],
      ],
    });
    expect(parseCsv("sku,cantidad\nA-1,4").rows).toEqual([["sku", "cantidad"], ["A-1", "4"]]);
    expect(parseCsv("sep=;\nsku;cantidad\rA,1;2").rows).toEqual([["sku", "cantidad"], ["A,1", "2"]]);
    expect(readSheet('\ufeffSKU;Producto;Bodega;Cantidad\r\n"X";Taza;Principal;"12"\r\n')).toEqual({
      rows: [{ line: 2, sku: "X", warehouseId: "", warehouse: "Principal", quantity: "12" }],
    });
  });

  it("says in Spanish which column a file lacks, and that an empty one is empty", () => {
    expect(readSheet("sku;producto;bodega_id\nA;B;C")).toEqual({ problem: expect.stringContaining("«cantidad»") });
    expect(readSheet("producto,cantidad\nB,1")).toEqual({ problem: expect.stringContaining("«sku»") });
    expect(readSheet("\ufeff")).toEqual({ problem: "El archivo está vacío." });
  });
});

describe("the preview and Aplicar against a store", () => {
  it("round-trips the export as Excel saves it: every change old -> new, unchanged rows left alone", async () => {
    const s = await store();
    const north = await newWarehouse(server, s, { name: "Bodega Norte" });
    const shirt = await tshirt(server, s, { "S/Negro": 3, "M/Café": 5 }, { name: 'Camiseta "Oficial"; algodón' });
    await newItem(server, s, { name: "Taza", sku: "TAZA-1", quantity: 2 });
    const [small, medium] = shirt.variants;
    const csv = await exported(s);
    const edited = asExcelWrites(csv, (fields) => {
      if (fields[0] === small!.sku && fields[4] === north.id) fields[5] = "9";
      if (fields[0] === "TAZA-1" && fields[3] === "Principal") fields[5] = "0";
      return fields;
    });
    const sheet = readSheet(edited);
    if ("problem" in sheet) throw new Error(sheet.problem);
    expect(sheet.rows).toHaveLength(6);
    const plan = planImport(sheet.rows, await lookUp(s, skusOf(sheet.rows)), await warehousesOf(s));
    expect(plan.unusable).toEqual([]);
    expect(plan.unchanged).toBe(4);
    expect(plan.changes.map((c) => [c.sku, c.product, c.variant, c.warehouse, c.old, c.new])).toEqual([
      [small!.sku, 'Camiseta "Oficial"; algodón', "Talla: S / Color: Negro", "Bodega Norte", 0, 9],
      ["TAZA-1", "Taza", "", "Principal", 2, 0],
    ]);
    const progress: number[] = [];
    const summary = await applyChanges(plan.changes, sendTo(s), (done) => progress.push(done));
    expect(summary).toEqual({ applied: 2, refused: [], moved: [], unconfirmed: 0 });
    expect(progress).toEqual([2]);
    expect(await levelQuantity(server.db, s.id, small!.id, north.id)).toBe(9);
    expect(await levelQuantity(server.db, s.id, medium!.id, north.id)).toBe(0);
  });

  it("lists the rows it cannot use, each with its reason in Spanish", async () => {
    const s = await store();
    const main = await mainWarehouseOf(server, s);
    const bodega = await newWarehouse(server, s, { name: "Bodega" });
    await newWarehouse(server, s, { name: "bodega" });
    await newItem(server, s, { name: "Taza", sku: "TAZA-1", quantity: 2 });
    await newItem(server, s, { name: "Pedido", sku: "PED-1", quantity: 0, sellWithoutStock: true });
    await newItem(server, s, { name: "Vaso", sku: "VASO-1", quantity: 1 });
    await newItem(server, s, { name: "Sin inventario", sku: "SIN-1", trackInventory: false });
    const sheet = readSheet(
      [
        "sku,bodega,bodega_id,cantidad",
        `TAZA-1,,${main},5`, // 2: fine
        `NADA-9,,${main},5`, // 3
        "TAZA-1,Bodega Sur,,5", // 4: no such warehouse
        "TAZA-1,BODEGA,,5", // 5: two warehouses by that name
        `VASO-1,,${main},5.5`, // 6
        `VASO-1,,${bodega.id},`, // 7
        `TAZA-1,Principal,,9`, // 8: the same level as row 2
        `PED-1,Principal,,-4`, // 9: the same level as row 12
        `SIN-1,Principal,,4`, // 10
        `,Principal,,4`, // 11
        `PED-1,,${main},-4`, // 12
        `TAZA-1,Bodega,${bodega.id},-1`, // 13: its bodega_id says which «Bodega»
        `PED-1,Bodega,${bodega.id},-4`, // 14: fine, it sells without stock
      ].join("\n"),
    );
    if ("problem" in sheet) throw new Error(sheet.problem);
    const plan = planImport(sheet.rows, await lookUp(s, skusOf(sheet.rows)), await warehousesOf(s));
    expect(plan.changes.map((change) => [change.line, change.warehouse, change.old, change.new])).toEqual([[14, "Bodega", 0, -4]]);
    expect(plan.unchanged).toBe(0);
    expect(plan.unusable.map((row) => [row.line, row.reason])).toEqual([
      [2, "Fila repetida: las filas 2, 8 cuentan la misma variante en la misma bodega."],
      [3, "SKU desconocido: ningún producto de la tienda tiene el SKU «NADA-9»."],
      [4, "Bodega desconocida: la tienda no tiene la bodega «Bodega Sur»."],
      [5, "Bodega ambigua: hay 2 bodegas «BODEGA»; indica su bodega_id."],
      [6, "La cantidad «5.5» no es un número entero."],
      [7, "Falta la cantidad."],
      [8, "Fila repetida: las filas 2, 8 cuentan la misma variante en la misma bodega."],
      [9, "Fila repetida: las filas 9, 12 cuentan la misma variante en la misma bodega."],
      [10, "El producto no registra cantidad disponible."],
      [11, "Falta el SKU: los productos sin SKU no se pueden importar."],
      [12, "Fila repetida: las filas 9, 12 cuentan la misma variante en la misma bodega."],
      [13, "Cantidad negativa en un producto sin «Vender sin Stock»."],
    ]);
  });

  it("applies in calls of 250, two at a time; a sale between the preview and Aplicar is reported as moved, not overwritten, and the rest applies", async () => {
    const s = await store();
    const items = await Promise.all(Array.from({ length: 30 }, (_, n) => newItem(server, s, { name: `Artículo ${n}`, sku: `ART-${n}`, quantity: 10 })));
    const warehouses = [await mainWarehouseOf(server, s)];
    for (let n = 1; n < 20; n++) warehouses.push((await newWarehouse(server, s, { name: `Bodega ${n}` })).id);
    // 30 items in 20 warehouses: 600 levels, every one counted anew
    const sheet = readSheet(asExcelWrites(await exported(s), (fields) => ((fields[5] = String(Number(fields[5]) + 3)), fields)));
    if ("problem" in sheet) throw new Error(sheet.problem);
    const plan = planImport(sheet.rows, await lookUp(s, skusOf(sheet.rows)), await warehousesOf(s));
    expect(plan.changes).toHaveLength(600);
    const sold = plan.changes.findIndex((change) => change.sku === "ART-7" && change.warehouse === "Principal");
    expect(await placeOrder(server, s, [{ itemId: items[7]!.id, quantity: 1 }])).toMatchObject({ __typename: "Order" });
    const progress: number[] = [];
    const summary = await applyChanges(plan.changes, sendTo(s), (done) => progress.push(done));
    // two calls at a time: the third one's 100 may come in before the second's 250
    expect(progress).toHaveLength(3);
    expect(progress.at(-1)).toBe(600);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(summary.applied).toBe(599);
    expect(summary.refused).toEqual([]);
    expect(summary.moved).toEqual([{ line: plan.changes[sold]!.line, sku: "ART-7", reason: "La cantidad cambió desde la vista previa (era 10); no se sobrescribió." }]);
    const itemId = items[7]!.id;
    const { rows: level } = await server.db.pool.query(
      `SELECT l.quantity FROM stock_levels l JOIN variants v ON v.store_id = l.store_id AND v.id = l.variant_id
        WHERE l.store_id = $1 AND v.item_id = $2 AND l.warehouse_id = $3`,
      [s.id, itemId, warehouses[0]],
    );
    expect(level[0].quantity).toBe(9); // the sale stands
    const { rows: notes } = await server.db.pool.query(`SELECT DISTINCT note FROM stock_movements WHERE store_id = $1 AND reason = 'MANUAL_SET'`, [s.id]);
    expect(notes).toEqual([{ note: "Importado de inventario.csv" }]);
  });

  it("a connection lost part way stops there and says how many changes are unconfirmed", async () => {
    const s = await store();
    const item = await newItem(server, s, { sku: "UNO", quantity: 1 });
    const change = { line: 2, sku: "UNO", product: "x", variant: "", warehouse: "Principal", old: 1, new: 2 };
    const main = await mainWarehouseOf(server, s);
    const variantId = (await lookUp(s, ["UNO"]))[0]!.variantId;
    const changes = Array.from({ length: 300 }, (_, n) => ({ ...change, line: n + 2, entry: { itemId: item.id, variantId, warehouseId: main, quantity: 2, expectedQuantity: 1 } }));
    const summary = await applyChanges(changes, async () => {
      throw new TypeError("Failed to fetch");
    });
    expect(summary).toEqual({ applied: 0, refused: [], moved: [], unconfirmed: 300 });
  });
});

describe("stockLevelsBySku", () => {
  it("answers the levels, in every warehouse, of the store's variants with those SKUs; for the admin only, 1 to 500 SKUs", async () => {
    const s = await store();
    const other = await newStore(server.db, "Otra");
    const north = await newWarehouse(server, s, { name: "Bodega Norte" });
    const main = await mainWarehouseOf(server, s);
    const shirt = await tshirt(server, s, { "S/Negro": 1 }, { name: "Camiseta" });
    const mug = await newItem(server, s, { name: "Taza", sku: "TAZA-1", quantity: 2, sellWithoutStock: true });
    await newItem(server, other, { name: "Ajena", sku: "AJENA-1", quantity: 2 });
    const found = await lookUp(s, ["TAZA-1", shirt.variants[0]!.sku!, "AJENA-1", "NADA"]);
    const sorted = found.map(({ variantId: _v, itemId, ...level }) => ({ itemId, ...level })).sort((a, b) => `${a.sku}${a.warehouseId}`.localeCompare(`${b.sku}${b.warehouseId}`));
    expect(sorted).toEqual(
      [
        { itemId: shirt.id, sku: shirt.variants[0]!.sku, warehouseId: main, quantity: 1, product: "Camiseta", variant: "Talla: S / Color: Negro", trackInventory: true, sellWithoutStock: false },
        { itemId: shirt.id, sku: shirt.variants[0]!.sku, warehouseId: north.id, quantity: 0, product: "Camiseta", variant: "Talla: S / Color: Negro", trackInventory: true, sellWithoutStock: false },
        { itemId: mug.id, sku: "TAZA-1", warehouseId: main, quantity: 2, product: "Taza", variant: "", trackInventory: true, sellWithoutStock: true },
        { itemId: mug.id, sku: "TAZA-1", warehouseId: north.id, quantity: 0, product: "Taza", variant: "", trackInventory: true, sellWithoutStock: true },
      ].sort((a, b) => `${a.sku}${a.warehouseId}`.localeCompare(`${b.sku}${b.warehouseId}`)),
    );
    const anonymous = await gql(server.url, STOCK_LEVELS_BY_SKU, { skus: ["TAZA-1"] });
    expect(anonymous.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    for (const skus of [[], Array.from({ length: 501 }, (_, n) => `S-${n}`)]) {
      const refused = await gql(server.url, STOCK_LEVELS_BY_SKU, { skus }, s.token);
      expect(refused.errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    }
    expect(await lookUp(s, Array.from({ length: 500 }, (_, n) => (n === 0 ? "TAZA-1" : `S-${n}`)))).toHaveLength(2);
  });
});
