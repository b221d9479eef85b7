import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { browserAvailable, launchChromium } from "./support/browser.ts";
import { openSubscriptions } from "../src/observability/metrics.ts";
import type { StockEvent, StockEventPublisher } from "../src/realtime/stock-events.ts";
import { gqlData, newItem, newStore, PLACE_ORDER, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";

/**
 * The storefront page in a real browser: Debian's Chromium driven by playwright-core (which never
 * downloads a browser). Without Chromium the test is skipped with a note, except under CI=true,
 * where .ci/run installs it and a missing browser fails the run.
 */
const SCREENSHOT = "test-results/storefront.png";
const VARIANTS_SCREENSHOT = "test-results/storefront-variants.png";
/** How long the page may take to show a change (a loaded CI machine is slow, not wrong). */
const SHOWN_WITHIN = { timeout: 15_000 };
const canRun = browserAvailable("storefront browser test");

const SET_QUANTITY = `mutation($input: SetItemQuantityInput!) {
  setItemQuantity(input: $input) { __typename ... on Item { availability } ... on OperationError { code message } }
}`;
const CREATE_ITEM_WITH_OPTIONS = `mutation($input: CreateItemInput!) {
  createItem(input: $input) {
    __typename ... on Item { id variants { id options { value } } } ... on OperationError { code message field }
  }
}`;
const CREATE_WAREHOUSE = `mutation($input: CreateWarehouseInput!) {
  createWarehouse(input: $input) { __typename ... on Warehouse { id } ... on OperationError { code message field } }
}`;
const TRANSFER = `mutation($input: TransferStockInput!) {
  transferStock(input: $input) { __typename ... on OperationError { code message field } ... on InsufficientStockError { code message } }
}`;
const ORDER_VARIANTS = `query($first: Int!) { orders(first: $first) { edges { node { lines { quantity variant { id } } } } } }`;
const SET_BEHAVIOR = `mutation($behavior: OutOfStockBehavior!) {
  updateInventorySettings(input: { outOfStockBehavior: $behavior }) { __typename }
}`;

describe.skipIf(!canRun)("storefront page in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  // Passes stock events on to the server's bus, or drops them: updates lost on their way.
  const gate = {
    bus: undefined as StockEventPublisher | undefined,
    dropping: false,
    publish(events: readonly StockEvent[]) {
      if (!this.dropping) this.bus!.publish(events);
    },
  };

  beforeAll(async () => {
    server = await startTestServer({ publisher: gate });
    gate.bus = server.deps.stockEvents;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const badge = (page: Page, itemId: string) => page.locator(`li[data-item-id="${itemId}"] .badge`);
  const row = (page: Page, itemId: string) => page.locator(`li[data-item-id="${itemId}"]`);

  async function setQuantity(store: TestStore, itemId: string, quantity: number, variantId?: string, warehouseId?: string) {
    const data = await gqlData(server.url, SET_QUANTITY, { input: { itemId, quantity, variantId, warehouseId } }, store.token);
    expect(data.setItemQuantity.__typename).toBe("Item");
  }

  /** A T-shirt in sizes, through the admin API: its id, its sizes' variant ids and the main warehouse. */
  async function newShirt(store: TestStore, quantities: Record<string, number>) {
    const sizes = Object.keys(quantities);
    const data = await gqlData(
      server.url,
      CREATE_ITEM_WITH_OPTIONS,
      {
        input: {
          name: "Camiseta",
          type: "PRODUCT",
          price: "45000",
          options: [{ name: "Talla", values: sizes }],
          variants: sizes.map((size) => ({ options: [{ name: "Talla", value: size }], sku: `CAM-${size}`, quantity: quantities[size] })),
        },
      },
      store.token,
    );
    expect(data.createItem.__typename).toBe("Item");
    const item = data.createItem as { id: string; variants: { id: string; options: { value: string }[] }[] };
    const settings = await gqlData(server.url, `query($slug: String!) { store(slug: $slug) { inventorySettings { warehouses { id isMain } } } }`, { slug: store.slug }, store.token);
    return {
      id: item.id,
      sizes: Object.fromEntries(item.variants.map((variant) => [variant.options[0]!.value, variant.id])) as Record<string, string>,
      mainWarehouseId: (settings.store.inventorySettings.warehouses as { id: string; isMain: boolean }[]).find((w) => w.isMain)!.id,
    };
  }

  async function newWarehouse(store: TestStore, name: string): Promise<string> {
    const data = await gqlData(server.url, CREATE_WAREHOUSE, { input: { name } }, store.token);
    expect(data.createWarehouse.__typename).toBe("Warehouse");
    return data.createWarehouse.id;
  }

  async function transfer(store: TestStore, variantId: string, fromWarehouseId: string, toWarehouseId: string, quantity: number) {
    const data = await gqlData(server.url, TRANSFER, { input: { variantId, fromWarehouseId, toWarehouseId, quantity } }, store.token);
    expect(data.transferStock.__typename).toBe("Variant");
  }

  /** Waits until the page's live subscription is running on the server, so no change slips past it. */
  async function untilSubscribed() {
    await expect
      .poll(async () => (await openSubscriptions.get()).values.reduce((sum, sample) => sum + sample.value, 0), SHOWN_WITHIN)
      .toBeGreaterThan(0);
  }

  it("shows live badges, drops hidden items, brings them back, and reports insufficient stock from the order form", async () => {
    const store = await newStore(server.db, "Ejemplar <b>& Cía</b>");
    const bag = await newItem(server, store, { name: "Bolso de cuero", quantity: 3 });
    const mug = await newItem(server, store, { name: "Taza de cerámica", price: "18000", quantity: 2 });
    const shirt = await newItem(server, store, { name: "Camiseta", price: "45000", quantity: 0, sellWithoutStock: true });
    const delivery = await newItem(server, store, { name: "Envío a domicilio", type: "SERVICE", price: "10000" });
    const trap = await newItem(server, store, { name: `<img src=x onerror="window.__xss=1">`, price: "1", quantity: 1 });

    const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });

    await page.goto(`${server.url}/store/${store.slug}`);
    await expect.poll(() => badge(page, bag.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 3");
    await page.locator('#live-status[data-state="live"]').waitFor(SHOWN_WITHIN);
    await untilSubscribed();

    // What the store's own data says, shown as text, never as markup.
    expect(await page.locator("h1").textContent()).toBe("Ejemplar <b>& Cía</b>");
    expect(await row(page, trap.id).locator(".item-name").textContent()).toBe(`<img src=x onerror="window.__xss=1">`);
    expect(await page.locator("main img").count()).toBe(0);
    expect(await page.evaluate(() => (window as any).__xss)).toBeUndefined();
    expect(await badge(page, shirt.id).textContent()).toBe("Bajo pedido");
    expect(await badge(page, delivery.id).textContent()).toBe("Disponible");
    // a mark that a reload or navigation would wipe out
    await page.evaluate(() => ((window as any).__sameDocument = true));

    // Sold out: the badge turns "Agotado" and the item can no longer be ordered.
    await setQuantity(store, bag.id, 0);
    await expect.poll(() => badge(page, bag.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    expect(await row(page, bag.id).locator("input").isDisabled()).toBe(true);

    // "Ocultar producto": the sold-out item leaves the page...
    await gqlData(server.url, SET_BEHAVIOR, { behavior: "HIDE" }, store.token);
    await expect.poll(() => row(page, bag.id).count(), SHOWN_WITHIN).toBe(0);
    // ...and comes back when stock returns.
    await setQuantity(store, bag.id, 2);
    await expect.poll(() => badge(page, bag.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 2");

    // An order that fits is held, then placed, and the page hears of the stock it took.
    await row(page, mug.id).locator("input").fill("1");
    await page.getByRole("button", { name: "Realizar pedido" }).click();
    await page.getByRole("button", { name: "Confirmar pedido" }).click();
    await expect.poll(() => page.locator(".order-result").textContent(), SHOWN_WITHIN).toContain("Pedido n.º 1 recibido");
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 1");

    // One that does not fit is refused, with what is available.
    await row(page, mug.id).locator("input").fill("5");
    await page.getByRole("button", { name: "Realizar pedido" }).click();
    const result = page.locator(".order-result");
    await expect.poll(() => result.textContent(), SHOWN_WITHIN).toContain("Stock insuficiente");
    expect(await result.locator("li").allTextContents()).toEqual(["Taza de cerámica: pediste 5, disponibles 1"]);
    expect(await result.getAttribute("role")).toBe("alert");

    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    expect(pageErrors).toEqual([]);
    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.close();
  });

  it("sells a T-shirt by size: each size's button shows its own stock and \"Agotado\" live, the item's badge only when every size is sold out, and the shopper orders the size picked", async () => {
    const store = await newStore(server.db);
    const shirt = await newShirt(store, { S: 2, M: 1, L: 2 });
    const bag = await newItem(server, store, { name: "Bolso de cuero", quantity: 3 });
    const size = (page: Page, name: string) => row(page, shirt.id).locator(`button.variant[data-variant-id="${shirt.sizes[name]}"]`);
    const sizeBadges = async (page: Page) =>
      (await row(page, shirt.id).locator("button.variant").evaluateAll((buttons) =>
        buttons.map((button) => `${button.querySelector(".variant-name")!.textContent} ${button.querySelector(".variant-badge")!.textContent}`),
      )).join(", ");

    const page = await browser.newPage({ viewport: { width: 900, height: 700 } });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    await page.goto(`${server.url}/store/${store.slug}`);
    await expect.poll(() => sizeBadges(page), SHOWN_WITHIN).toBe("S Disponible: 2, M Disponible: 1, L Disponible: 2");
    await page.locator('#live-status[data-state="live"]').waitFor(SHOWN_WITHIN);
    await untilSubscribed();
    await page.evaluate(() => ((window as any).__sameDocument = true));
    expect(await badge(page, shirt.id).textContent()).toBe("Disponible: 5");
    expect(await row(page, shirt.id).locator(".variants-label").textContent()).toBe("Talla");
    // an item without options looks as it always did: no buttons
    expect(await row(page, bag.id).locator("button.variant").count()).toBe(0);
    expect(await row(page, bag.id).locator(".variants").isHidden()).toBe(true);
    expect(await badge(page, bag.id).textContent()).toBe("Disponible: 3");

    // Someone else's order takes the last M: M shows "Agotado" and cannot be picked; S and L still sell.
    const order = await gqlData(server.url, PLACE_ORDER, { store: store.slug, input: { lines: [{ itemId: shirt.id, variantId: shirt.sizes.M, quantity: 1 }] } });
    expect(order.placeOrder.__typename).toBe("Order");
    await expect.poll(() => sizeBadges(page), SHOWN_WITHIN).toBe("S Disponible: 2, M Agotado, L Disponible: 2");
    expect(await size(page, "M").isDisabled()).toBe(true);
    expect(await size(page, "L").isEnabled()).toBe(true);
    expect(await badge(page, shirt.id).textContent()).toBe("Disponible: 4");

    // "Ocultar producto": the sold-out size leaves the buttons, the item stays; and back.
    await gqlData(server.url, SET_BEHAVIOR, { behavior: "HIDE" }, store.token);
    await expect.poll(() => sizeBadges(page), SHOWN_WITHIN).toBe("S Disponible: 2, L Disponible: 2");
    await gqlData(server.url, SET_BEHAVIOR, { behavior: "MARK_SOLD_OUT" }, store.token);
    await expect.poll(() => sizeBadges(page), SHOWN_WITHIN).toBe("S Disponible: 2, M Agotado, L Disponible: 2");

    // The shopper must pick a size; then the order takes that size.
    const shirtQuantity = row(page, shirt.id).locator("input.item-quantity");
    await shirtQuantity.fill("1");
    await page.getByRole("button", { name: "Realizar pedido" }).click();
    await expect.poll(() => page.locator(".order-result li").allTextContents(), SHOWN_WITHIN).toEqual(["Camiseta: elige Talla"]);
    await size(page, "L").click();
    expect(await size(page, "L").getAttribute("aria-pressed")).toBe("true");
    await page.getByRole("button", { name: "Realizar pedido" }).click();
    await page.getByRole("button", { name: "Confirmar pedido" }).click();
    await expect.poll(() => page.locator(".order-result").textContent(), SHOWN_WITHIN).toContain("Pedido n.º 2 recibido");
    await expect.poll(() => sizeBadges(page), SHOWN_WITHIN).toBe("S Disponible: 2, M Agotado, L Disponible: 1");
    expect(await badge(page, shirt.id).textContent()).toBe("Disponible: 3");
    const placed = await gqlData(server.url, ORDER_VARIANTS, { first: 1 }, store.token);
    expect(placed.orders.edges[0].node.lines).toEqual([{ quantity: 1, variant: { id: shirt.sizes.L } }]);

    // S and L sell out too: now, and only now, the item itself is "Agotado" and cannot be ordered.
    await setQuantity(store, shirt.id, 0, shirt.sizes.S);
    await expect.poll(() => sizeBadges(page), SHOWN_WITHIN).toBe("S Agotado, M Agotado, L Disponible: 1");
    expect(await badge(page, shirt.id).textContent()).toBe("Disponible: 1");
    await setQuantity(store, shirt.id, 0, shirt.sizes.L);
    await expect.poll(() => badge(page, shirt.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    expect(await sizeBadges(page)).toBe("S Agotado, M Agotado, L Agotado");
    expect(await shirtQuantity.isDisabled()).toBe(true);
    expect(await size(page, "L").getAttribute("aria-pressed")).toBe("false");

    // A second warehouse that does not fulfil online orders: its L units show once transferred to the main one.
    const north = await newWarehouse(store, "Bodega Norte");
    await setQuantity(store, shirt.id, 4, shirt.sizes.L, north);
    await transfer(store, shirt.sizes.L, north, shirt.mainWarehouseId, 2);
    await expect.poll(() => sizeBadges(page), SHOWN_WITHIN).toBe("S Agotado, M Agotado, L Disponible: 2");
    expect(await badge(page, shirt.id).textContent()).toBe("Disponible: 2");
    expect(await shirtQuantity.isEnabled()).toBe(true);
    await size(page, "L").click();

    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    expect(pageErrors).toEqual([]);
    await mkdir("test-results", { recursive: true });
    await page.screenshot({ path: VARIANTS_SCREENSHOT, fullPage: true });
    await page.close();
  });

  it("re-reads the list when an item's version jumps, so the updates it missed of other items show too", async () => {
    const store = await newStore(server.db);
    const bag = await newItem(server, store, { name: "Bolso de cuero", quantity: 5 });
    const mug = await newItem(server, store, { name: "Taza de cerámica", quantity: 5 });
    const page = await browser.newPage();
    await page.goto(`${server.url}/store/${store.slug}`);
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 5");
    await page.locator('#live-status[data-state="live"]').waitFor(SHOWN_WITHIN);
    await untilSubscribed();

    gate.dropping = true;
    await setQuantity(store, mug.id, 0);
    await setQuantity(store, bag.id, 4);
    gate.dropping = false;
    expect(await badge(page, mug.id).textContent()).toBe("Disponible: 5");

    // The bag's next update skips a version: the page notices and reads everything again.
    await setQuantity(store, bag.id, 3);
    await expect.poll(() => badge(page, bag.id).textContent(), SHOWN_WITHIN).toBe("Disponible: 3");
    await expect.poll(() => badge(page, mug.id).textContent(), SHOWN_WITHIN).toBe("Agotado");
    await page.close();
  });
});
