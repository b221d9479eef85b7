/**
 * The console's Importar timed end to end (SPEC section 9: "10,000 rows apply in under 10
 * seconds"): a shop of 10,000 products (BENCH_IMPORT_ROWS) exported, every count changed in the
 * file as Excel saves it in a Spanish locale (BOM, semicolons, CRLF), and the file imported in
 * the console in Chromium: the seconds from choosing the file to the preview, and from Aplicar
 * to the summary (40 calls of 250 with expectedQuantity, two at a time, as the screen sends
 * them), with the page's live subscription receiving the 10,000 stock updates meanwhile. Needs
 * Debian's Chromium (test/support/browser.ts).
 */
import { loadavg } from "node:os";
import type pg from "pg";
import { browserAvailable, launchChromium } from "../test/support/browser.ts";
import { round, seedStore, startServer } from "./support.ts";

export const importRows = () => Number(process.env.BENCH_IMPORT_ROWS ?? 10_000);

export async function importInConsoleScenario(pool: pg.Pool, serverEnv: Record<string, string>, rows: number, log: (message: string) => void) {
  if (!browserAvailable("the import bench")) throw new Error("no Chromium at /usr/bin/chromium");
  const store = await seedStore(pool, "bench-import", rows, 100);
  await pool.query("VACUUM ANALYZE");
  const server = await startServer(serverEnv, "import-server");
  const browser = await launchChromium();
  try {
    const csv = await (await fetch(`${server.url}/admin/inventory.csv`, { headers: { authorization: `Bearer ${store.token}` } })).text();
    const lines = csv.trimEnd().split("\r\n");
    // every count one more; the export's names have no separators to quote ("Item 17")
    const edited = lines.map((line, index) => {
      const fields = line.split(",");
      if (index > 0) fields[5] = String(Number(fields[5]) + 1);
      return fields.join(";");
    });
    const file = Buffer.from(`\ufeff${edited.join("\r\n")}\r\n`, "utf8");
    log(`importInConsole: ${lines.length - 1} rows, ${(file.length / 2 ** 20).toFixed(1)} MB`);

    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    await page.goto(`${server.url}/admin`);
    await page.getByLabel("Dirección de la tienda").fill(store.slug);
    await page.getByLabel("Token de administrador").fill(store.token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Productos" }).waitFor({ timeout: 30_000 });
    await page.getByRole("link", { name: "Importar" }).click();
    await page.getByLabel("Archivo CSV").waitFor({ timeout: 30_000 });

    const chosen = performance.now();
    await page.getByLabel("Archivo CSV").setInputFiles({ name: "inventario.csv", mimeType: "text/csv", buffer: file });
    const apply = page.getByRole("button", { name: /^Aplicar \d+ cambios$/ });
    await apply.waitFor({ timeout: 120_000 });
    const previewed = performance.now();
    await apply.click();
    await page.locator(".import-summary").waitFor({ timeout: 300_000 });
    const applied = performance.now();
    const summary = await page.locator(".import-summary .notice").textContent();
    if (summary !== `Aplicados: ${rows}. Sin cambios: 0. Rechazados: 0. Cambiaron mientras tanto: 0.`) throw new Error(`import bench: ${summary}`);
    return {
      rows,
      previewSeconds: round((previewed - chosen) / 1000),
      applySeconds: round((applied - previewed) / 1000),
      calls: Math.ceil(rows / 250),
      machineLoad: loadavg()[0]!,
    };
  } finally {
    await browser.close();
    await server.stop();
  }
}
