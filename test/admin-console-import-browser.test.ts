import { mkdir, readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { signInToConsole, SHOWN_WITHIN } from "./support/admin-console.ts";
import { browserAvailable, launchChromium } from "./support/browser.ts";
import { newItem, newStore, placeOrder, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";
import { levelQuantity, newWarehouse, tshirt } from "./support/variants.ts";

/**
 * The console's Exportar and Importar in Chromium: the file downloaded with the token in a
 * header, edited the way Excel saves it in a Spanish locale (BOM, semicolons, CRLF, quoted
 * fields), previewed old -> new with the rows it cannot use, applied with a sale meanwhile.
 */
const SCREENSHOT = "test-results/admin-console-import.png";
const canRun = browserAvailable("admin console import browser test");

describe.skipIf(!canRun)("Exportar and Importar in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  beforeAll(async () => {
    server = await startTestServer();
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const signIn = (store: TestStore) => signInToConsole(browser, server.url, store, { acceptDownloads: true });


  it("exports, imports an Excel-style semicolon file, previews old -> new and why rows cannot be used, applies with a sale meanwhile", async () => {
    const store = await newStore(server.db);
    const north = await newWarehouse(server, store, { name: "Bodega Norte" });
    const shirt = await tshirt(server, store, { "S/Negro": 3, "M/Café": 5 }, { name: 'Camiseta "Oficial"; algodón' });
    const mug = await newItem(server, store, { name: "Taza", sku: "TAZA-1", quantity: 4 });
    await newItem(server, store, { name: "Vaso", sku: "VASO-1", quantity: 2 });
    const { page, problems } = await signIn(store);

    // Exportar: a download, the token in a header only
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Exportar" }).click()]);
    expect(download.suggestedFilename()).toMatch(new RegExp(`^inventario-${store.slug}-\\d{4}-\\d{2}-\\d{2}\\.csv$`));
    const csv = await readFile((await download.path())!, "utf8");
    // with a BOM, so that Excel reads it as UTF-8
    expect(csv.startsWith("\ufeff")).toBe(true);
    const lines = csv.slice(1).trimEnd().split("\r\n");
    expect(lines[0]).toBe("sku,producto,variante,bodega,bodega_id,cantidad,comprometida,reservada,disponible");
    expect(lines).toHaveLength(1 + 4 * 2);

    // the merchant's edits, saved by Excel: BOM, ";" separated, CRLF, quotes around what needs them
    const [small, medium] = shirt.variants;
    const rows = lines.slice(1).map((line) => splitExported(line));
    for (const row of rows) {
      if (row[0] === small!.sku && row[4] === north.id) row[5] = "9";
      if (row[0] === medium!.sku && row[3] === "Principal") row[5] = "1";
      if (row[0] === "TAZA-1" && row[3] === "Principal") row[5] = "10";
      if (row[0] === "VASO-1" && row[3] === "Principal") row[5] = "2,5";
    }
    rows.push(["NADA-9", "Otra cosa", "", "Principal", "", "3", "0", "0", "3"]);
    const excel = "\ufeff" + [lines[0]!.split(","), ...rows].map((row) => row.map(excelField).join(";")).join("\r\n") + "\r\n";
    expect(excel).toContain(`"Camiseta ""Oficial""; algodón"`);

    await page.getByRole("link", { name: "Importar" }).click();
    await page.getByRole("heading", { name: "Importar inventario" }).waitFor(SHOWN_WITHIN);
    await page.getByLabel("Archivo CSV").setInputFiles({ name: "inventario.csv", mimeType: "text/csv", buffer: Buffer.from(excel, "utf8") });
    await page.locator(".import-changes").waitFor(SHOWN_WITHIN);
    expect(await page.locator(".import-counts p").first().textContent()).toBe(
      "inventario.csv: 3 cambios, 4 sin cambios, 2 filas que no se pueden usar.",
    );
    const changes = await page.locator(".import-changes tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(changes).toEqual([
      [expect.any(String), small!.sku, 'Camiseta "Oficial"; algodónTalla: S / Color: Negro', "Bodega Norte", "0 → 9"],
      [expect.any(String), medium!.sku, 'Camiseta "Oficial"; algodónTalla: M / Color: Café', "Principal", "5 → 1"],
      [expect.any(String), "TAZA-1", "Taza", "Principal", "4 → 10"],
    ]);
    const unusable = await page.locator(".unusable li .reason").allTextContents();
    expect(unusable).toEqual(["La cantidad «2,5» no es un número entero.", "SKU desconocido: ningún producto de la tienda tiene el SKU «NADA-9»."]);

    // a sale after the preview: its row is reported, not overwritten
    expect(await placeOrder(server, store, [{ itemId: mug.id, quantity: 1 }])).toMatchObject({ __typename: "Order" });
    // each call held back a moment (and then sent on as it was), so that the progress bar can be seen
    await page.route("**/graphql", async (route) => {
      if (route.request().postData()?.includes("SetQuantities")) await new Promise((resolve) => setTimeout(resolve, 700));
      await route.continue();
    });
    await page.getByRole("button", { name: "Aplicar 3 cambios" }).click();
    const progress = page.getByRole("progressbar", { name: "Aplicando…" });
    await progress.waitFor(SHOWN_WITHIN);
    expect(await progress.getAttribute("max")).toBe("3");
    await page.locator(".import-summary").waitFor(SHOWN_WITHIN);
    expect(await page.locator(".import-summary .notice").textContent()).toBe("Aplicados: 2. Sin cambios: 4. Rechazados: 0. Cambiaron mientras tanto: 1.");
    expect(await page.locator(".moved li").textContent()).toMatch(/^Fila \d+ \(SKU TAZA-1\): La cantidad cambió desde la vista previa \(era 4\); no se sobrescribió\.$/);
    expect(await levelQuantity(server.db, store.id, small!.id, north.id)).toBe(9);
    expect(await levelQuantity(server.db, store.id, await variantOf(server, store, mug.id), await mainWarehouse(server, store))).toBe(3);

    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("says why a file cannot be read, and refuses while Alegra Contabilidad manages the counts", async () => {
    const store = await newStore(server.db);
    const { page, problems } = await signIn(store);
    await page.getByRole("link", { name: "Importar" }).click();
    await page.getByLabel("Archivo CSV").setInputFiles({ name: "otra.csv", mimeType: "text/csv", buffer: Buffer.from("nombre;precio\r\nTaza;10\r\n") });
    await expect.poll(() => page.getByRole("alert").textContent(), SHOWN_WITHIN).toContain("le falta la columna «sku»");
    await server.db.pool.query(`UPDATE stores SET accounting_sync = true WHERE id = $1`, [store.id]);
    await page.reload();
    await page.getByText("El inventario se gestiona desde Alegra Contabilidad mientras la sincronización está activa: no se puede importar.").waitFor(SHOWN_WITHIN);
    expect(await page.getByLabel("Archivo CSV").count()).toBe(0);
    expect(problems).toEqual([]);
    await page.close();
  });
});

/** A line of the service's export (comma separated, RFC 4180 quotes). */
function splitExported(line: string): string[] {
  return [...line.matchAll(/(?:^|,)(?:"((?:[^"]|"")*)"|([^,]*))/g)].map((match) => (match[1] !== undefined ? match[1].replaceAll('""', '"') : match[2]!));
}

/** A field as Excel writes it with ";" as the separator. */
const excelField = (field: string) => (/[;"\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field);

async function variantOf(server: TestServer, store: TestStore, itemId: string) {
  const { rows } = await server.db.pool.query(`SELECT id FROM variants WHERE store_id = $1 AND item_id = $2 AND is_default`, [store.id, itemId]);
  return rows[0].id as string;
}

async function mainWarehouse(server: TestServer, store: TestStore) {
  const { rows } = await server.db.pool.query(`SELECT id FROM warehouses WHERE store_id = $1 AND is_main`, [store.id]);
  return rows[0].id as string;
}
