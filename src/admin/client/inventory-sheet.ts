/**
 * "Importar": the merchant's edited export read back, each row matched to a stock level and
 * compared with its count now (the preview), and the changes applied in calls of 250
 * (setItemQuantities, two at a time) with `expectedQuantity` set to the count the preview showed, so that a
 * count that moved meanwhile (a sale) is reported instead of overwritten. Plain functions over
 * the sheet's text and the API's answers: the screen (screens/inventory-import.tsx) shows them,
 * and test/inventory-import.test.ts runs them against a real server.
 */
import type { SkuStockLevel } from "../../stock/inventory-export.ts";
import type { ApiError } from "./api.ts";
import { parseCsv } from "./csv.ts";
import { errorText } from "./messages.ts";

/** Entries per setItemQuantities call: the most the service takes. */
export const ENTRIES_PER_CALL = 250;

/** A row of the sheet as the merchant left it; `line` is its row number in the spreadsheet (the header is 1). */
export type SheetRow = { line: number; sku: string; warehouseId: string; warehouse: string; quantity: string };

/** A stock level of a SKU the sheet names, as stockLevelsBySku answers it (the service's own type: a type import bundles nothing). */
export type SheetLevel = SkuStockLevel;
export type SheetWarehouse = { id: string; name: string };

export type BulkEntry = { itemId: string; variantId: string; warehouseId: string; quantity: number; expectedQuantity: number };
/** A count the sheet changes: what the preview shows (old -> new) and the entry that applies it. */
export type PlannedChange = { line: number; sku: string; product: string; variant: string; warehouse: string; old: number; new: number; entry: BulkEntry };
export type RowProblem = { line: number; sku: string; reason: string };
export type ImportPlan = { changes: PlannedChange[]; unchanged: number; unusable: RowProblem[] };

const fold = (text: string) => text.trim().toLocaleLowerCase("es").normalize("NFD").replace(/\p{M}/gu, "");

/**
 * The rows of an exported sheet (comma or semicolon separated, BOM or not), by the export's
 * Spanish headers in any order and case; `problem` says in Spanish why the file cannot be read.
 */
export function readSheet(text: string): { rows: SheetRow[] } | { problem: string } {
  const { rows } = parseCsv(text);
  if (rows.length === 0) return { problem: "El archivo está vacío." };
  const header = rows[0]!.map(fold);
  const column = (name: string) => header.indexOf(name);
  const [sku, quantity, warehouseId, warehouse] = ["sku", "cantidad", "bodega_id", "bodega"].map(column) as [number, number, number, number];
  const missing = [sku < 0 && "sku", quantity < 0 && "cantidad", warehouseId < 0 && warehouse < 0 && "bodega_id (o bodega)"].filter(Boolean);
  if (missing.length > 0) {
    return { problem: `Al archivo le falta la columna ${missing.map((name) => `«${name}»`).join(" y ")}. Usa como plantilla el archivo de «Exportar».` };
  }
  const at = (fields: string[], index: number) => (index < 0 ? "" : (fields[index] ?? "").trim());
  return {
    rows: rows.slice(1).map((fields, index) => ({
      line: index + 2,
      sku: at(fields, sku),
      warehouseId: at(fields, warehouseId),
      warehouse: at(fields, warehouse),
      quantity: at(fields, quantity),
    })),
  };
}

/** The distinct SKUs the rows name, for stockLevelsBySku. */
export const skusOf = (rows: readonly SheetRow[]) => [...new Set(rows.map((row) => row.sku).filter(Boolean))];

/**
 * The stock levels of `skus`, asked `perCall` SKUs at a time, three calls in flight; null when a
 * call got no answer.
 */
export async function lookUpLevels(
  skus: readonly string[],
  perCall: number,
  lookUp: (skus: string[]) => Promise<SheetLevel[] | null>,
): Promise<SheetLevel[] | null> {
  const calls: string[][] = [];
  for (let start = 0; start < skus.length; start += perCall) calls.push(skus.slice(start, start + perCall));
  const found: SheetLevel[][] = [];
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < calls.length) {
      const index = next++;
      const levels = await lookUp(calls[index]!);
      if (!levels) failed = true;
      else found[index] = levels;
    }
  };
  await Promise.all([worker(), worker(), worker()]);
  return failed ? null : found.flat();
}

const MAX_QUANTITY = 1_000_000_000;

/**
 * Each row matched by SKU (a variant's, or the item's for one without options) and warehouse
 * (bodega_id, else a bodega name that is unique), compared with its count now: a change, an
 * unchanged count, or a row that cannot be used and why.
 */
export function planImport(rows: readonly SheetRow[], levels: readonly SheetLevel[], warehouses: readonly SheetWarehouse[]): ImportPlan {
  const bySku = new Map<string, SheetLevel[]>();
  for (const level of levels) bySku.set(fold(level.sku), [...(bySku.get(fold(level.sku)) ?? []), level]);
  const warehouseById = new Map(warehouses.map((warehouse) => [warehouse.id, warehouse]));
  const plan: ImportPlan = { changes: [], unchanged: 0, unusable: [] };
  const named: { row: SheetRow; level: SheetLevel; warehouse: SheetWarehouse }[] = [];
  const problem = (row: SheetRow, reason: string) => plan.unusable.push({ line: row.line, sku: row.sku, reason });
  for (const row of rows) {
    if (!row.sku) {
      problem(row, "Falta el SKU: los productos sin SKU no se pueden importar.");
      continue;
    }
    const found = bySku.get(fold(row.sku));
    if (!found) {
      problem(row, `SKU desconocido: ningún producto de la tienda tiene el SKU «${row.sku}».`);
      continue;
    }
    let warehouse = warehouseById.get(row.warehouseId);
    if (!warehouse) {
      const byName = warehouses.filter((candidate) => row.warehouse && fold(candidate.name) === fold(row.warehouse));
      if (byName.length > 1) {
        problem(row, `Bodega ambigua: hay ${byName.length} bodegas «${row.warehouse}»; indica su bodega_id.`);
        continue;
      }
      warehouse = byName[0];
    }
    const level = warehouse && found.find((candidate) => candidate.warehouseId === warehouse.id);
    if (!warehouse || !level) {
      problem(row, `Bodega desconocida: la tienda no tiene la bodega «${row.warehouse || row.warehouseId}».`);
      continue;
    }
    named.push({ row, level, warehouse });
  }
  // two rows counting one level: neither is taken, the merchant says which count is right
  const lines = new Map<string, number[]>();
  const keyOf = (level: SheetLevel) => `${level.variantId}/${level.warehouseId}`;
  for (const { row, level } of named) lines.set(keyOf(level), [...(lines.get(keyOf(level)) ?? []), row.line]);
  for (const { row, level, warehouse } of named) {
    const same = lines.get(keyOf(level))!;
    if (same.length > 1) {
      problem(row, `Fila repetida: las filas ${same.join(", ")} cuentan la misma variante en la misma bodega.`);
      continue;
    }
    if (!/^[+-]?\d+$/.test(row.quantity)) {
      problem(row, row.quantity ? `La cantidad «${row.quantity}» no es un número entero.` : "Falta la cantidad.");
      continue;
    }
    const quantity = Number(row.quantity);
    if (Math.abs(quantity) > MAX_QUANTITY) problem(row, `La cantidad «${row.quantity}» es demasiado grande.`);
    else if (!level.trackInventory) problem(row, "El producto no registra cantidad disponible.");
    else if (quantity < 0 && !level.sellWithoutStock) problem(row, "Cantidad negativa en un producto sin «Vender sin Stock».");
    else if (quantity === level.quantity) plan.unchanged++;
    else {
      plan.changes.push({
        line: row.line,
        sku: row.sku,
        product: level.product,
        variant: level.variant,
        warehouse: warehouse.name,
        old: level.quantity,
        new: quantity,
        entry: { itemId: level.itemId, variantId: level.variantId, warehouseId: warehouse.id, quantity, expectedQuantity: level.quantity },
      });
    }
  }
  plan.unusable.sort((a, b) => a.line - b.line);
  return plan;
}

/** What setItemQuantities answers, as the console asks it (BULK_SET_QUANTITIES in api.ts). */
export type BulkAnswer =
  | { __typename: "BulkQuantitiesSet"; changed: number }
  | { __typename: "BulkQuantitiesRefused"; errors: (ApiError & { index: number })[] }
  | ({ __typename: "OperationError" } & ApiError);

export type ApplySummary = {
  applied: number;
  /** refused, with why */
  refused: RowProblem[];
  /** counts that moved between the preview and Aplicar (a sale): left as they are */
  moved: RowProblem[];
  /** changes not applied because the connection failed part way (their call's outcome unknown) */
  unconfirmed: number;
};

/**
 * Applies `changes` in calls of ENTRIES_PER_CALL, CALLS_AT_ONCE at a time. A call refused for
 * some of its entries (all or nothing) is sent again without them, so that one sale meanwhile
 * does not hold back the other 249; `send` failing (no answer) stops there, as what that call did
 * is unknown. `onProgress` hears how many changes are done.
 */
export async function applyChanges(
  changes: readonly PlannedChange[],
  send: (entries: BulkEntry[]) => Promise<BulkAnswer>,
  onProgress: (done: number) => void = () => {},
): Promise<ApplySummary> {
  const summary: ApplySummary = { applied: 0, refused: [], moved: [], unconfirmed: 0 };
  const calls: PlannedChange[][] = [];
  for (let start = 0; start < changes.length; start += ENTRIES_PER_CALL) calls.push(changes.slice(start, start + ENTRIES_PER_CALL));
  let next = 0;
  let done = 0;
  let lost = false;
  const worker = async () => {
    while (!lost && next < calls.length) {
      const call = calls[next++]!;
      if (!(await applyCall(call, send, summary))) {
        lost = true;
        return;
      }
      done += call.length;
      onProgress(done);
    }
  };
  await Promise.all(Array.from({ length: CALLS_AT_ONCE }, worker));
  if (lost) summary.unconfirmed = changes.length - done;
  for (const list of [summary.refused, summary.moved]) list.sort((a, b) => a.line - b.line);
  return summary;
}

/**
 * Calls in flight at once: the service counts them in parallel (each locks its own items, in the
 * one global order), and a call's round trip overlaps the other's work.
 */
export const CALLS_AT_ONCE = 2;

/** One call of applyChanges, sent again without the entries it refuses; false when `send` got no answer. */
async function applyCall(call: PlannedChange[], send: (entries: BulkEntry[]) => Promise<BulkAnswer>, summary: ApplySummary): Promise<boolean> {
  let pending = call;
  while (pending.length > 0) {
    let answer: BulkAnswer;
    try {
      answer = await send(pending.map((change) => change.entry));
    } catch {
      return false;
    }
    if (answer.__typename === "BulkQuantitiesSet") {
      summary.applied += answer.changed;
      return true;
    }
    if (answer.__typename === "OperationError") {
      const reason = refusalText(answer);
      summary.refused.push(...pending.map((change) => ({ line: change.line, sku: change.sku, reason })));
      return true;
    }
    const refused = new Set<number>();
    for (const error of answer.errors) {
      const change = pending[error.index];
      if (!change || refused.has(error.index)) continue;
      refused.add(error.index);
      if (error.code === "STALE_QUANTITY") {
        summary.moved.push({ line: change.line, sku: change.sku, reason: `La cantidad cambió desde la vista previa (era ${change.old}); no se sobrescribió.` });
      } else {
        summary.refused.push({ line: change.line, sku: change.sku, reason: refusalText(error) });
      }
    }
    // a refusal naming no entry of the call would repeat forever: take it as the whole call's
    if (refused.size === 0) {
      const reason = refusalText(answer.errors[0] ?? { code: "INTERNAL", message: "" });
      summary.refused.push(...pending.map((change) => ({ line: change.line, sku: change.sku, reason })));
      return true;
    }
    pending = pending.filter((_, index) => !refused.has(index));
  }
  return true;
}

/**
 * Why the service refused a row, in the sheet's terms: the preview already held each row to the
 * whole-number rule, so an INVALID_INPUT at quantity is the negative count (the item stopped
 * selling without stock meanwhile).
 */
function refusalText(error: ApiError): string {
  if (error.code === "INVALID_INPUT" && error.field === "quantity") return "Cantidad negativa en un producto sin «Vender sin Stock».";
  if (error.code === "INVALID_INPUT" && error.field === "itemId") return "El producto no registra cantidad disponible.";
  return errorText(error);
}
