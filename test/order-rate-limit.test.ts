import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, inject, it } from "vitest";
import { createLogger } from "../src/logger.ts";
import { createOrderRateLimiter, type OrderRateLimiter } from "../src/orders/order-rate-limit.ts";
import { storeHashTag } from "../src/redis.ts";
import { eventually } from "./support/wait.ts";

const redisUrl = inject("redisUrl");
// the middle of a minute, so that no window ends during a test
const minute = Date.UTC(2026, 11, 7, 12, 0, 30);
const limiters: OrderRateLimiter[] = [];
const redis = new Redis(redisUrl);
afterAll(() => redis.disconnect());
/** What Redis holds for a counter (the limiter's key: the store as a hash tag, the window, the client). */
const countInRedis = async (store: string, client: string) =>
  Number(await redis.get(`${storeHashTag(store)}:order-rate:${Math.floor(minute / 60_000)}:${client}`));
const newSlug = () => `rate-${randomBytes(4).toString("hex")}`;

/** A limiter counting in Redis: a call made before its connection is up counts in the process alone. */
async function limiter(perMinute: number) {
  const made = createOrderRateLimiter({ perMinute, redisUrl, logger: createLogger("silent"), now: () => minute })!;
  limiters.push(made);
  const probe = newSlug();
  await eventually(async () => (await made.take(probe, "probe"), (await countInRedis(probe, "probe")) > 0), "the limiter counting in Redis");
  return made;
}
afterEach(async () => {
  await Promise.all(limiters.splice(0).map((made) => made.close()));
});

describe("the order rate limit in Redis, calls arriving together", () => {
  it("counts calls of one client sent at once one by one: exactly the limit passes", async () => {
    const limit = await limiter(6);
    const store = newSlug();
    const decisions = await Promise.all(Array.from({ length: 10 }, () => limit.take(store, "203.0.113.9")));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(6);
    // in arrival order: the first six pass, the rest are refused
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, true, true, true, false, false, false, false]);
    expect(await limit.take(store, "203.0.113.9")).toMatchObject({ allowed: false });
    expect(await countInRedis(store, "203.0.113.9")).toBe(11);
  });

  it("keeps the counters of different clients, stores and budgets apart within one turn", async () => {
    const limit = await limiter(2);
    const [store, other] = [newSlug(), newSlug()];
    const decisions = await Promise.all([
      ...Array.from({ length: 3 }, () => limit.take(store, "203.0.113.1")),
      ...Array.from({ length: 3 }, () => limit.take(store, "203.0.113.2")),
      ...Array.from({ length: 3 }, () => limit.take(other, "203.0.113.1")),
      ...Array.from({ length: 3 }, () => limit.take(store, "storefront-token:t1", 3)),
    ]);
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, false, true, true, false, true, true, false, true, true, true]);
    expect(await countInRedis(other, "203.0.113.1")).toBe(3);
  });

  it("shares the counts of two processes sending at once: the limit holds over both", async () => {
    const [one, two] = [await limiter(7), await limiter(7)];
    const store = newSlug();
    const decisions = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? one : two).take(store, "198.51.100.4")));
    expect(decisions.filter((decision) => decision.allowed)).toHaveLength(7);
    expect(await countInRedis(store, "198.51.100.4")).toBe(10);
  });
});
