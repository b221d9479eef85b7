import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { browserAvailable, launchChromium } from "./support/browser.ts";
import { openSubscriptions } from "../src/observability/metrics.ts";
import { gqlData, newItem, newStore, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";
import { countsOf, hold, newShirt, releaseAsAdmin, release, runOut, setReservationMinutes, statusOf } from "./support/reservations.ts";

/**
 * Cart holds on the storefront page (SPEC section 9), in Chromium with two shoppers, each a page
 * of its own browser context: one holds its cart with "Realizar pedido" and sees the time left,
 * the other sees the held item "Agotado" live, and back when the hold ends (a changed or emptied
 * cart, the page left, the merchant's release, the time running out); "Confirmar pedido" places
 * the order with the hold, which ends CONVERTED.
 */
const SCREENSHOT = "test-results/storefront-hold.png";
const SHOWN_WITHIN = { timeout: 15_000 };
const canRun = browserAvailable("storefront holds browser test");

const RESERVATIONS = `query { reservations(first: 10) { edges { node { id status orderId lines { quantity item { id } } } } } }`;
const ORDERS = `query { orders(first: 5) { edges { node { id number lines { quantity item { id } } } } } }`;
const HIDE_SOLD_OUT = `mutation { updateInventorySettings(input: { outOfStockBehavior: HIDE }) { __typename } }`;

describe.skipIf(!canRun)("cart holds on the storefront page in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  beforeAll(async () => {
    // the expiry sweep runs often, so a hold whose time ran out ends within a fraction of a second
    server = await startTestServer({ config: { reservationExpiryIntervalMs: 200 } });
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const row = (page: Page, itemId: string) => page.locator(`li[data-item-id="${itemId}"]`);
  const badge = (page: Page, itemId: string) => row(page, itemId).locator(".badge");
  const quantity = (page: Page, itemId: string) => row(page, itemId).locator("input.item-quantity");
  const holdTime = (page: Page) => page.locator(".hold-time");
  const result = (page: Page) => page.locator(".order-result");

  /** A shopper: a page in a browser context of its own, its errors collected. */
  async function shopper(store: TestStore, options: { fakeClock?: boolean } = {}) {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 } });
    contexts.push(context);
    // a clock the test can move forward: the countdown reaches 0:00 without a ten-minute wait
    if (options.fakeClock) await context.clock.install();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") errors.push(message.text());
    });
    await page.goto(`${server.url}/store/${store.slug}`);
    await page.locator('#live-status[data-state="live"]').waitFor(SHOWN_WITHIN);
    return { page, errors };
  }

  /** Waits until `count` live subscriptions run on the server, so no change slips past a page. */
  async function untilSubscribed(count: number) {
    await expect
      .poll(async () => (await openSubscriptions.get()).values.reduce((sum, sample) => sum + sample.value, 0), SHOWN_WITHIN)
      .toBeGreaterThanOrEqual(count);
  }

  async function reservations(store: TestStore) {
    return (await gqlData(server.url, RESERVATIONS, {}, store.token)).reservations.edges.map((edge: any) => edge.node) as {
      id: string; status: string; orderId: string | null; lines: { quantity: number; item: { id: string } }[];
    }[];
  }

  /** The newest hold of the store, as the merchant sees it. */
  const newestHold = async (store: TestStore) => (await reservations(store))[0]!;

  async function holdCart(page: Page) {
    await page.getByRole("button", { name: "Realizar pedido" }).click(SHOWN_WITHIN);
    await expect.poll(() => holdTime(page).textContent(), SHOWN_WITHIN).toMatch(/^Reservado por (10:00|9:[0-5]\d)$/);
  }

  it("holds the cart with the time left while another shopper sees the item sold out live; a changed cart, Vaciar carrito and leaving give it back; Confirmar pedido orders with the hold", { timeout: 180_000 }, async () => {
    const store = await newStore(server.db);
    const mug = await newItem(server, store, { name: "Taza de cerámica", price: "18000", quantity: 2 });
    const bag = await newItem(server, store, { name: "Bolso de cuero", quantity: 3 });
    const first = await shopper(store);
    const other = await shopper(store);
    const { page } = first;
    await untilSubscribed(2);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 2");

    // "Realizar pedido" holds both mugs: the time left shows, "Confirmar pedido" takes the button's place.
    await quantity(page, mug.id).fill("2");
    await holdCart(page);
    expect(await page.getByRole("button", { name: "Realizar pedido" }).isHidden()).toBe(true);
    expect(await page.getByRole("button", { name: "Confirmar pedido" }).isVisible()).toBe(true);
    // the other shopper sees them sold out at once, and cannot order them
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    expect(await quantity(other.page, mug.id).isDisabled()).toBe(true);
    expect(await badge(other.page, bag.id).textContent()).toBe("Disponible: 3");
    // the holder's page says so too, but the mugs are theirs: the row stays orderable with its quantity
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    expect(await row(page, mug.id).locator(".item-held").textContent()).toBe("En tu reserva: 2");
    expect(await quantity(page, mug.id).isEnabled()).toBe(true);
    expect(await quantity(page, mug.id).inputValue()).toBe("2");
    const firstHold = await newestHold(store);
    expect(firstHold.status).toBe("HELD");
    expect((await countsOf(server.db, store.id, mug.id)).reservedQuantity).toBe(2);
    // the countdown moves
    const shown = await holdTime(page).textContent();
    await expect.poll(() => holdTime(page).textContent(), SHOWN_WITHIN).not.toBe(shown);

    // A change to the cart is another cart: the hold goes, the other shopper sees the mugs again.
    await quantity(page, mug.id).fill("1");
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Cambiaste el carrito y liberamos tu reserva");
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 2");
    expect((await statusOf(server.db, store.id, firstHold.id))!.status).toBe("RELEASED");
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 2");
    expect(await page.locator(".hold").isHidden()).toBe(true);
    // the row is the shopper's until the release answers (the other page may hear of it first)
    await expect.poll(() => row(page, mug.id).locator(".item-held").isHidden(), SHOWN_WITHIN).toBe(true);
    expect(await quantity(page, mug.id).inputValue()).toBe("1");

    // Hold one, then confirm: the order takes the held mug and the hold ends CONVERTED with its id.
    await holdCart(page);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    await page.locator(".customer-name").fill("Ana");
    await page.getByRole("button", { name: "Confirmar pedido" }).click();
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Pedido n.º 1 recibido");
    expect(await page.locator(".hold").isHidden()).toBe(true);
    expect(await quantity(page, mug.id).inputValue()).toBe("0");
    const orders = (await gqlData(server.url, ORDERS, {}, store.token)).orders.edges.map((edge: any) => edge.node);
    expect(orders).toHaveLength(1);
    expect(orders[0].lines).toEqual([{ quantity: 1, item: { id: mug.id } }]);
    const converted = await newestHold(store);
    expect(converted).toMatchObject({ status: "CONVERTED", orderId: orders[0].id, lines: [{ quantity: 1, item: { id: mug.id } }] });
    expect(await countsOf(server.db, store.id, mug.id)).toMatchObject({ quantity: 1, reservedQuantity: 0, available: 1 });
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    expect(await badge(other.page, mug.id).textContent()).toBe("Disponible: 1");

    // "Vaciar carrito" while the last mug is held: back on the other page.
    await quantity(page, mug.id).fill("1");
    await holdCart(page);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    const emptied = await newestHold(store);
    await page.getByRole("button", { name: "Vaciar carrito" }).click();
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    expect(await result(page).textContent()).toBe("Vaciaste el carrito y liberamos tu reserva.");
    expect(await quantity(page, mug.id).inputValue()).toBe("0");
    expect((await statusOf(server.db, store.id, emptied.id))!.status).toBe("RELEASED");

    // Leaving the page with the last mug held gives it back at once, without waiting for the expiry.
    await quantity(page, mug.id).fill("1");
    await quantity(page, bag.id).fill("2");
    await holdCart(page);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    await expect.poll(() => badge(other.page, bag.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    const left = await newestHold(store);
    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.goto("about:blank");
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    await expect.poll(() => badge(other.page, bag.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 3");
    expect((await statusOf(server.db, store.id, left.id))!.status).toBe("RELEASED");

    expect(first.errors).toEqual([]);
    expect(other.errors).toEqual([]);
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  it("says when the hold ends without the page (the time runs out on the page's clock or the service's, the merchant releases it) and holds again; refusals in Spanish; a store without holds orders at once", { timeout: 180_000 }, async () => {
    const store = await newStore(server.db);
    const mug = await newItem(server, store, { name: "Taza de cerámica", price: "18000", quantity: 1 });
    const first = await shopper(store, { fakeClock: true });
    const other = await shopper(store);
    const { page } = first;
    await untilSubscribed(2);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");

    // The countdown reaches 0:00: the page says the hold is over, gives the mug back and can hold again.
    await quantity(page, mug.id).fill("1");
    await holdCart(page);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    const timedOut = await newestHold(store);
    await page.clock.fastForward("10:01");
    await page.clock.resume();
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Tu reserva venció");
    expect(await page.locator(".hold").isHidden()).toBe(true);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    expect(["RELEASED", "EXPIRED"]).toContain((await statusOf(server.db, store.id, timedOut.id))!.status);
    expect(await quantity(page, mug.id).inputValue()).toBe("1");

    // The service's clock runs out first (the page's is behind): its expiry pushes the mug back
    // to the other shopper, and the holder's page hears of it from the hold's status.
    await holdCart(page);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    const expiring = await newestHold(store);
    await runOut(server.db, store.id, expiring.id);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    expect((await statusOf(server.db, store.id, expiring.id))!.status).toBe("EXPIRED");
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Tu reserva venció");
    expect(await page.locator(".hold").isHidden()).toBe(true);

    // The merchant's "Liberar": the same, in the store's words.
    await holdCart(page);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    expect((await releaseAsAdmin(server, store, (await newestHold(store)).id)).status).toBe("RELEASED");
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("La tienda liberó tu reserva");

    // Someone else's hold has the mug: the holder's refusal reads as an order's, in Spanish.
    const theirs = await hold(server, store, [{ itemId: mug.id, quantity: 1 }]);
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    expect(await quantity(page, mug.id).isDisabled()).toBe(true);
    await release(server, theirs.ref);
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");
    await quantity(page, mug.id).fill("3");
    await page.getByRole("button", { name: "Realizar pedido" }).click();
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Stock insuficiente");
    expect(await result(page).locator("li").allTextContents()).toEqual(["Taza de cerámica: pediste 3, disponibles 1"]);

    // Five holds of this shopper (the same address) already: the sixth is refused with the reason.
    const five = [];
    for (let i = 0; i < 5; i++) five.push(await hold(server, store, [{ itemId: (await newItem(server, store, { quantity: 1 })).id, quantity: 1 }]));
    await quantity(page, mug.id).fill("1");
    await page.getByRole("button", { name: "Realizar pedido" }).click();
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Ya tienes el máximo de reservas activas en esta tienda");
    expect(await page.locator(".hold").isHidden()).toBe(true);
    for (const held of five) await release(server, held.ref);

    // A store that holds nothing for carts: "Realizar pedido" places the order at once, as before holds.
    expect((await setReservationMinutes(server, store, 0)).reservationMinutes).toBe(0);
    await page.getByRole("button", { name: "Realizar pedido" }).click();
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Pedido n.º 1 recibido");
    expect(await page.locator(".hold").isHidden()).toBe(true);
    expect((await reservations(store)).filter((reservation) => reservation.status === "HELD")).toEqual([]);
    await expect.poll(() => badge(other.page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");

    expect(first.errors).toEqual([]);
    expect(other.errors).toEqual([]);
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });

  it("keeps the holder's own rows in a store that hides what sells out: the others see the held item and size leave, the holder orders them", { timeout: 180_000 }, async () => {
    const store = await newStore(server.db);
    await gqlData(server.url, HIDE_SOLD_OUT, {}, store.token);
    const mug = await newItem(server, store, { name: "Taza de cerámica", price: "18000", quantity: 1 });
    const shirt = await newShirt(server, store, { S: 1, M: 2 });
    const small = shirt.small;
    const sizes = (page: Page) => row(page, shirt.id).locator("button.variant .variant-name").allTextContents();
    const first = await shopper(store);
    const other = await shopper(store);
    const { page } = first;
    await untilSubscribed(2);
    await expect.poll(() => sizes(other.page), SHOWN_WITHIN).toEqual(["S", "M"]);

    await quantity(page, mug.id).fill("1");
    await quantity(page, shirt.id).fill("1");
    await row(page, shirt.id).locator(`button.variant[data-variant-id="${small}"]`).click();
    await holdCart(page);
    // the last mug and the last S are held: they leave the other shopper's page...
    await expect.poll(() => row(other.page, mug.id).count(), SHOWN_WITHIN).toBe(0);
    await expect.poll(() => sizes(other.page), SHOWN_WITHIN).toEqual(["M"]);
    // ...and stay on the holder's, theirs, sold out to everyone else
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    expect(await row(page, mug.id).locator(".item-held").textContent()).toBe("En tu reserva: 1");
    expect(await quantity(page, mug.id).inputValue()).toBe("1");
    expect(await sizes(page)).toEqual(["S", "M"]);
    expect(await row(page, shirt.id).locator(`button.variant[data-variant-id="${small}"]`).getAttribute("aria-pressed")).toBe("true");

    await page.getByRole("button", { name: "Confirmar pedido" }).click();
    await expect.poll(() => result(page).textContent(), SHOWN_WITHIN).toContain("Pedido n.º 1 recibido");
    const orders = (await gqlData(server.url, ORDERS, {}, store.token)).orders.edges.map((edge: any) => edge.node);
    expect(orders[0].lines).toHaveLength(2);
    expect((await newestHold(store)).status).toBe("CONVERTED");
    // sold now: gone from the holder's page too
    await expect.poll(() => row(page, mug.id).count(), SHOWN_WITHIN).toBe(0);
    await expect.poll(() => sizes(page), SHOWN_WITHIN).toEqual(["M"]);

    expect(first.errors).toEqual([]);
    expect(other.errors).toEqual([]);
    await Promise.all(contexts.splice(0).map((context) => context.close()));
  });
});
