import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { signInToConsole, SHOWN_WITHIN } from "./support/admin-console.ts";
import { browserAvailable, launchChromium } from "./support/browser.ts";
import { gqlData, newItem, newStore, placeOrder, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";
import { alertsOf, setStoreThreshold } from "./support/low-stock.ts";
import { tshirt, variantOf } from "./support/variants.ts";

/**
 * The console's "Stock bajo" in Chromium: the badge on low items and the list, live as orders
 * come in elsewhere; an alert arriving in the top bar; the threshold edited on the item page and
 * the store's in Configuración.
 */
const SCREENSHOT = "test-results/admin-console-low-stock.png";
const canRun = browserAvailable("admin console low-stock browser test");

describe.skipIf(!canRun)("Stock bajo in Chromium", () => {
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

  const signIn = (store: TestStore) => signInToConsole(browser, server.url, store);


  it("badges and the list follow orders live; an alert arriving shows in the top bar", async () => {
    const store = await newStore(server.db);
    await setStoreThreshold(server, store, { lowStockThreshold: 3 });
    const mug = await newItem(server, store, { name: "Taza", sku: "TAZA-1", quantity: 5 });
    const bag = await newItem(server, store, { name: "Bolso", sku: "BOL-1", quantity: 2 });
    const { page, problems } = await signIn(store);
    await page.getByText("En vivo").waitFor(SHOWN_WITHIN);
    const row = (itemId: string) => page.locator(`tr[data-item-id="${itemId}"]`);
    await expect.poll(() => row(bag.id).locator(".badge-low-stock").count(), SHOWN_WITHIN).toBe(1);
    expect(await row(mug.id).locator(".badge-low-stock").count()).toBe(0);

    // the alert subscription is in place once a probe's alert shows (a server says nothing when it is)
    await page.evaluate(() => ((window as any).__sameDocument = true));
    const setCount = (itemId: string, quantity: number) =>
      gqlData(server.url, `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { __typename } }`, { input: { itemId, quantity } }, store.token);
    const probe = await newItem(server, store, { name: "Sonda", sku: "PROBE", quantity: 9 });
    await expect.poll(async () => {
      if ((await page.locator(".alert-notice").count()) > 0) return true;
      await setCount(probe.id, 9);
      await setCount(probe.id, 0);
      return false;
    }, SHOWN_WITHIN).toBe(true);
    // alerts of the probe's earlier rounds may still arrive: close each until none comes for a second
    const notices = page.locator(".alert-notice");
    await expect.poll(async () => {
      if ((await notices.count()) > 0) {
        await page.getByRole("button", { name: "Cerrar" }).first().click();
        return -1;
      }
      await page.waitForTimeout(1_000);
      return notices.count();
    }, SHOWN_WITHIN).toBe(0);

    // an order elsewhere takes the mug to 3: its badge and its alert arrive without a reload
    expect(await placeOrder(server, store, [{ itemId: mug.id, quantity: 2 }])).toMatchObject({ __typename: "Order" });
    await expect.poll(() => page.locator(".alert-notice").textContent(), SHOWN_WITHIN).toBe("Stock bajo: Taza, quedan 3.Cerrar");
    await expect.poll(() => row(mug.id).locator(".badge-low-stock").count(), SHOWN_WITHIN).toBe(1);
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);

    // the list, lowest available first; an item counted back up leaves it live
    await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Stock bajo" }).click();
    await page.getByRole("heading", { name: "Stock bajo", level: 1 }).waitFor(SHOWN_WITHIN);
    const listed = () => page.locator(".low-stock-variants tbody tr .item-name").allTextContents();
    await expect.poll(listed, SHOWN_WITHIN).toEqual(["Sonda", "Bolso", "Taza"]);
    expect(await page.locator(".alerts li").first().textContent()).toContain("Taza: quedaban 3 (umbral 3)");
    await gqlData(server.url, `mutation($input: SetItemQuantityInput!) { setItemQuantity(input: $input) { __typename } }`, { input: { itemId: bag.id, quantity: 9 } }, store.token);
    await expect.poll(listed, SHOWN_WITHIN).toEqual(["Sonda", "Taza"]);

    expect(problems).toEqual([]);
    await page.close();
  });

  it("the threshold on the item page and the store's in Configuración: a threshold a variant already meets alerts at once", async () => {
    const store = await newStore(server.db);
    const shirt = await tshirt(server, store, { "S/Negro": 2, "M/Negro": 8 }, { name: "Camiseta" });
    const { page, problems } = await signIn(store);
    await page.getByText("En vivo").waitFor(SHOWN_WITHIN);
    await page.getByRole("link", { name: "Camiseta" }).click();
    await page.getByRole("heading", { name: "Stock bajo" }).waitFor(SHOWN_WITHIN);
    const small = page.getByLabel("Umbral de stock bajo: Talla: S / Color: Negro");
    expect(await small.getAttribute("placeholder")).toBe("Sin umbral");
    await small.fill("2");
    await page.getByRole("button", { name: "Cambiar umbral" }).click();
    await page.getByText("Umbral de stock bajo guardado (Talla: S / Color: Negro: 2 unidades).").waitFor(SHOWN_WITHIN);
    await expect.poll(() => page.locator(".alert-notice").textContent(), SHOWN_WITHIN).toContain("Camiseta (Talla: S / Color: Negro), quedan 2");
    await expect.poll(() => page.locator(`.low-stock-form tr[data-variant-id="${variantOf(shirt, "S/Negro").id}"] .badge-low-stock`).count(), SHOWN_WITHIN).toBe(1);
    expect((await alertsOf(server, store)).map((alert) => [alert.variant.id, alert.threshold])).toEqual([[variantOf(shirt, "S/Negro").id, 2]]);

    // a bad threshold is refused beside its field, in Spanish
    await page.getByLabel("Umbral de stock bajo: Talla: M / Color: Negro").fill("-1");
    await page.getByRole("button", { name: "Cambiar umbral" }).click();
    await page.getByText("Escribe el umbral en números enteros, 0 o más; o déjalo vacío para usar el de la tienda.").waitFor(SHOWN_WITHIN);

    // the store's threshold, in Configuración -> Inventario
    await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Configuración" }).click();
    await page.getByRole("button", { name: "Editar" }).click();
    await page.getByLabel("Umbral de stock bajo (unidades disponibles)").fill("10");
    await page.locator('form[aria-labelledby="inventory-settings-title"]').getByRole("button", { name: "Guardar" }).click();
    await page.getByText("Guardado: umbral de stock bajo: 10 unidades.").waitFor(SHOWN_WITHIN);
    await expect.poll(() => page.locator(".low-stock-threshold").textContent(), SHOWN_WITHIN).toBe("10 unidades");
    // M (8) follows the store's 10 now: its alert, recorded in the same change
    await expect.poll(async () => (await alertsOf(server, store)).length, SHOWN_WITHIN).toBe(2);
    await expect.poll(() => page.locator(".alert-notice").textContent(), SHOWN_WITHIN).toContain("Talla: M / Color: Negro");

    await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Stock bajo" }).click();
    await expect.poll(() => page.locator(".low-stock-variants tbody tr").count(), SHOWN_WITHIN).toBe(2);
    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
