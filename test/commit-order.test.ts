import { describe, expect, it, onTestFinished } from "vitest";
import { inCommitOrder } from "../src/realtime/commit-order.ts";
import type { StockEvent } from "../src/realtime/stock-events.ts";
import { startTestServer } from "./support/harness.ts";

const event = (itemId: string, version: number): StockEvent => ({
  storeId: "4f9d2c1e-0000-4000-8000-000000000001",
  itemId,
  variantId: itemId,
  availability: "IN_STOCK",
  availableQuantity: 1,
  version,
  variantAvailability: "IN_STOCK",
  variantAvailableQuantity: 1,
  availabilityChanged: false,
  at: "2026-11-29T10:00:00.000Z",
});

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe("publishing in commit order", () => {
  it("hands on the events of one turn in version order per item, and each turn after the one before", async () => {
    const published: string[][] = [];
    const publisher = inCommitOrder({ publish: (events) => void published.push(events.map((e) => `${e.itemId}@${e.version}`)) });

    // two commits of item a read in the wrong order in one turn, with another item's in between
    publisher.publish([event("a", 8)]);
    publisher.publish([event("b", 3)]);
    publisher.publish([event("a", 7)]);
    expect(published).toEqual([]); // nothing before the turn ends
    await nextTurn();
    publisher.publish([event("a", 9)]);
    await nextTurn();

    expect(published).toEqual([["b@3", "a@7", "a@8"], ["a@9"]]);
  });
});

describe("the tests' servers", () => {
  it("publish through the service's own publisher: two commits read in the wrong order reach the bus in version order", async () => {
    const server = await startTestServer();
    onTestFinished(() => server.close());
    const received: string[] = [];
    const subscription = server.deps.stockEvents.subscribe(event("a", 0).storeId, (e) => void received.push(`${e.itemId}@${e.version}`));
    onTestFinished(() => subscription.stop());
    await subscription.ready;
    server.deps.publisher.publish([event("a", 8)]);
    server.deps.publisher.publish([event("a", 7)]);
    await nextTurn();
    await nextTurn();
    expect(received).toEqual(["a@7", "a@8"]);
  });
});
