import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { browserAvailable, launchChromium } from "./support/browser.ts";
import { signInToConsole, SHOWN_WITHIN } from "./support/admin-console.ts";
import { gqlData, newItem, newStore, startTestServer, type TestServer } from "./support/harness.ts";
import { countsOf, hold, newShirt, release, reserve, runOut, statusOf } from "./support/reservations.ts";

/**
 * The console and cart holds (SPEC section 9), in Chromium: "Reservada" beside Comprometida and
 * Disponible on items, their variants and their stock levels, following holds live; "Reservas"
 * listing the holds in force with their lines and time left, live, and "Liberar" giving one back.
 * The holds are made as a storefront makes them, through the public reserveStock. And how long
 * a hold lasts, in Configuración ("Reserva del carrito"), 0 for none.
 */
const SCREENSHOT = "test-results/admin-console-reservations.png";
const canRun = browserAvailable("console reservations browser test");


describe.skipIf(!canRun)("the console's Reservas and Reservada in Chromium", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    // the expiry sweep runs often, so a hold whose time ran out ends within a fraction of a second
    server = await startTestServer({ config: { reservationExpiryIntervalMs: 200 } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("shows held units as Reservada live, lists the holds in force with their time left, and Liberar gives one back", async () => {
    const store = await newStore(server.db);
    const mug = await newItem(server, store, { name: "Taza de cerámica", price: "18000", quantity: 3 });
    const shirt = await newShirt(server, store, { S: 2, M: 1 });
    const medium = shirt.medium;

    const mugHold = await hold(server, store, [{ itemId: mug.id, quantity: 2 }]);
    const { page, problems } = await signInToConsole(browser, server.url, store);
    const itemRow = (id: string) => page.locator(`tr[data-item-id="${id}"]`);
    const variantRow = (id: string) => page.locator(`tr[data-variant-id="${id}"]`);

    // Productos: the mug's held units beside the committed and available ones.
    await expect.poll(() => itemRow(mug.id).locator(".reserved").textContent(), SHOWN_WITHIN).toBe("2");
    expect(await itemRow(mug.id).locator(".committed").textContent()).toBe("0");
    expect(await itemRow(mug.id).locator(".available").textContent()).toBe("1");
    expect(await page.locator("table.items thead th").allTextContents()).toEqual(["Producto", "SKU", "Cantidad", "Comprometida", "Reservada", "Disponible", "Estado"]);
    expect(await itemRow(shirt.id).locator(".reserved").textContent()).toBe("0");

    // A shopper holds the last M while the list is open: its variant's row and the item's follow live.
    await page.getByText("En vivo").waitFor(SHOWN_WITHIN);
    const shirtHold = await hold(server, store, [{ itemId: shirt.id, variantId: medium, quantity: 1 }]);
    await expect.poll(() => variantRow(medium).locator(".reserved").textContent(), SHOWN_WITHIN).toBe("1");
    expect(await variantRow(medium).locator(".available").textContent()).toBe("0");
    // the item's row follows the item's update, which may render a moment after its variant's
    await expect.poll(() => itemRow(shirt.id).locator(".reserved").textContent(), SHOWN_WITHIN).toBe("1");
    expect(await itemRow(shirt.id).locator(".available").textContent()).toBe("2");

    // Reservas: both holds, newest first, with their lines and the time they have left.
    await page.getByRole("link", { name: "Reservas" }).click();
    await page.getByRole("heading", { name: "Reservas" }).waitFor(SHOWN_WITHIN);
    const holdRow = (id: string) => page.locator(`tr[data-reservation-id="${id}"]`);
    const listed = () => page.locator("table.holds tbody tr").evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.reservationId));
    await expect.poll(listed, SHOWN_WITHIN).toEqual([shirtHold.id, mugHold.id]);
    expect(await holdRow(mugHold.id).locator(".hold-lines li").allTextContents()).toEqual(["Taza de cerámica × 2"]);
    expect(await holdRow(shirtHold.id).locator(".hold-lines li").allTextContents()).toEqual(["Camiseta (Talla: M) × 1"]);
    expect(await holdRow(mugHold.id).locator(".time-left").textContent()).toMatch(/^(10:00|9:[0-5]\d)$/);
    const shown = await holdRow(mugHold.id).locator(".time-left").textContent();
    await expect.poll(() => holdRow(mugHold.id).locator(".time-left").textContent(), SHOWN_WITHIN).not.toBe(shown);

    // Live: a new hold shows up at the top; one whose time runs out leaves.
    const lastMug = await hold(server, store, [{ itemId: mug.id, quantity: 1 }]);
    await expect.poll(listed, SHOWN_WITHIN).toEqual([lastMug.id, shirtHold.id, mugHold.id]);
    await runOut(server.db, store.id, lastMug.id);
    await expect.poll(async () => (await statusOf(server.db, store.id, lastMug.id))!.status, SHOWN_WITHIN).toBe("EXPIRED");
    await expect.poll(listed, SHOWN_WITHIN).toEqual([shirtHold.id, mugHold.id]);

    // "Liberar": the mugs are back for everyone at once.
    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await holdRow(mugHold.id).getByRole("button", { name: "Liberar" }).click();
    await expect.poll(() => page.locator(".notice").textContent(), SHOWN_WITHIN).toBe("Reserva liberada: Taza de cerámica × 2 vuelve a estar disponible.");
    await expect.poll(listed, SHOWN_WITHIN).toEqual([shirtHold.id]);
    expect((await statusOf(server.db, store.id, mugHold.id))!.status).toBe("RELEASED");
    expect(await countsOf(server.db, store.id, mug.id)).toMatchObject({ reservedQuantity: 0, available: 3 });

    // The shirt's page: Reservada per size and warehouse, and for the item; the shopper's release shows live.
    await page.getByRole("link", { name: "Camiseta (Talla: M) × 1" }).click();
    await page.getByRole("heading", { name: "Camiseta" }).waitFor(SHOWN_WITHIN);
    const level = page.locator(`.levels tr[data-level^="${medium}:"]`);
    expect(await page.locator(".levels thead th").allTextContents()).toEqual(
      ["Variante", "Bodega", "Cantidad", "Comprometida", "Reservada", "Disponible", "Cantidad disponible"],
    );
    await expect.poll(() => level.locator(".reserved").textContent(), SHOWN_WITHIN).toBe("1");
    await expect.poll(() => page.locator(".facts dd.reserved").textContent(), SHOWN_WITHIN).toBe("1");
    expect((await release(server, shirtHold.ref)).status).toBe("RELEASED");
    await expect.poll(() => level.locator(".reserved").textContent(), SHOWN_WITHIN).toBe("0");
    await expect.poll(() => page.locator(".facts dd.reserved").textContent(), SHOWN_WITHIN).toBe("0");

    // and Reservas, empty now, says so
    await page.getByRole("link", { name: "Reservas" }).click();
    await expect.poll(() => page.locator(".reservations .empty").textContent(), SHOWN_WITHIN).toBe("No hay reservas activas.");
    expect(problems).toEqual([]);
    await page.close();
  });

  it("Configuración sets how long a cart hold lasts (Reserva del carrito), 0 for no holds; out of range is refused in Spanish", async () => {
    const store = await newStore(server.db);
    const mug = await newItem(server, store, { name: "Taza de cerámica", price: "18000", quantity: 3 });
    const { page, problems } = await signInToConsole(browser, server.url, store);
    await page.getByRole("navigation", { name: "Secciones" }).getByRole("link", { name: "Configuración" }).click();
    await expect.poll(() => page.locator(".reservation-minutes").textContent(), SHOWN_WITHIN).toBe("10 minutos");
    const form = page.locator('form[aria-labelledby="inventory-settings-title"]');
    const minutes = page.getByLabel("Reserva del carrito (minutos)");

    await page.getByRole("button", { name: "Editar" }).click();
    expect(await minutes.inputValue()).toBe("10");
    await minutes.fill("121");
    await form.getByRole("button", { name: "Guardar" }).click();
    await page.getByText("Escribe los minutos de la reserva en números enteros, de 0 (sin reservas) a 120.").waitFor(SHOWN_WITHIN);
    expect(await minutes.getAttribute("aria-invalid")).toBe("true");
    await minutes.fill("15");
    await form.getByRole("button", { name: "Guardar" }).click();
    await page.getByText("Guardado: reserva del carrito: 15 minutos.").waitFor(SHOWN_WITHIN);
    await expect.poll(() => page.locator(".reservation-minutes").textContent(), SHOWN_WITHIN).toBe("15 minutos");
    const held = await hold(server, store, [{ itemId: mug.id, quantity: 1 }]);
    const lasts = new Date(held.expiresAt).getTime() - Date.now();
    expect(lasts).toBeGreaterThan(14 * 60_000);
    expect(lasts).toBeLessThanOrEqual(15 * 60_000);

    await page.getByRole("button", { name: "Editar" }).click();
    await minutes.fill("0");
    await form.getByRole("button", { name: "Guardar" }).click();
    await page.getByText("Guardado: sin reservas del carrito.").waitFor(SHOWN_WITHIN);
    await expect.poll(() => page.locator(".reservation-minutes").textContent(), SHOWN_WITHIN).toBe("Sin reservas");
    expect(await reserve(server, store, [{ itemId: mug.id, quantity: 1 }])).toMatchObject({ __typename: "OperationError", code: "RESERVATIONS_OFF" });
    // the hold made before stays until it ends
    expect((await statusOf(server.db, store.id, held.id))!.status).toBe("HELD");
    expect(problems).toEqual([]);
    await page.close();
  });
});
