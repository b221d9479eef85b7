/**
 * `overload`: the flash sale (bench/flash-sale.ts: 5,000 subscribers over 100 stores, half the
 * orders for a flash item of 5 units) driven at 3 times the highest rate it holds, for
 * BENCH_OVERLOAD_S (30) seconds, so that the service must shed load (src/http/load-shedding.ts).
 *
 * The held rate is BENCH_OVERLOAD_RATE when set, else the flash sale's of this run or of the last
 * one in BENCH_OUT, else found here as the flash sale finds it (doubling from BENCH_FLASH_START
 * while a step of 5 s holds: every order answered, none shed, p99 within BENCH_FLASH_MAX_P99_MS).
 * The service then runs BENCH_OVERLOAD_HELD_S (10) seconds at the held rate, for the p99 to
 * compare with, and the overload after it. Orders are sent open-loop (each when due, answered or
 * not, at most BENCH_OVERLOAD_MAX_IN_FLIGHT unanswered), each with an idempotency key of its own,
 * so that afterwards every order answered with an Order must exist under its key and every one
 * refused (503, or out of stock) must not. RSS is read every 250 ms, and /metrics and /health
 * every second (they are never shed: a failure is counted).
 */
import http from "node:http";
import type pg from "pg";
import { Clients, flashSaleOptions, nextOrder, openFlashSale, seedFlashStores, versions, type FlashSaleOptions, type FlashStore } from "./flash-sale.ts";
import { PLACE_ORDER } from "./orders.ts";
import { checkInvariants, percentile, round, sleep, startServer, type ServerProcess } from "./support.ts";

export type OverloadOptions = {
  flash: FlashSaleOptions;
  /** the flash sale's held rate, when known */
  heldRate: number | undefined;
  factor: number;
  heldMs: number;
  overloadMs: number;
  maxInFlight: number;
  /** a request unanswered this long counts as unanswered */
  timeoutMs: number;
};

export function overloadOptions(heldRate: number | undefined): OverloadOptions {
  const env = (name: string, otherwise: number) => Number(process.env[name] ?? otherwise);
  return {
    flash: flashSaleOptions(),
    heldRate: process.env.BENCH_OVERLOAD_RATE ? Number(process.env.BENCH_OVERLOAD_RATE) : heldRate,
    factor: 3,
    heldMs: env("BENCH_OVERLOAD_HELD_S", 10) * 1000,
    overloadMs: env("BENCH_OVERLOAD_S", 30) * 1000,
    maxInFlight: env("BENCH_OVERLOAD_MAX_IN_FLIGHT", 4_096),
    timeoutMs: 30_000,
  };
}

/** The highest rate a flash-sale result held (its steps'), if any. */
export function heldRateOf(flashSale: { steps?: { targetPerSec: number; held: boolean }[] } | undefined): number | undefined {
  const held = (flashSale?.steps ?? []).filter((step) => step.held).map((step) => step.targetPerSec);
  return held.length > 0 ? Math.max(...held) : undefined;
}

/** What became of a step's orders, by idempotency key. */
type Tally = {
  sent: number;
  /** answered with an Order */
  placed: string[];
  /** answered InsufficientStockError (a flash item sold out): admitted, refused by the rules */
  outOfStock: string[];
  /** answered 503 SERVICE_UNAVAILABLE with Retry-After */
  shed: string[];
  /** answered anything else */
  failed: string[];
  firstFailure?: string;
  /** no answer (socket error or timeout) */
  unanswered: string[];
  /** due but not sent: BENCH_OVERLOAD_MAX_IN_FLIGHT were unanswered */
  notSent: number;
  shedWithoutRetryAfter: number;
  admittedLatenciesMs: number[];
  shedLatenciesMs: number[];
  /** deliveries the placed orders owe */
  expectedDeliveries: number;
  maxInFlight: number;
  seconds: number;
};

/** Orders at `rate` per second for `durationMs`, open-loop, each with the idempotency key `<keyPrefix>-<n>`. */
function openLoopOrders(url: URL, rate: number, durationMs: number, stores: readonly FlashStore[], options: OverloadOptions, keyPrefix: string): Promise<Tally> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxInFlight });
  const tally: Tally = {
    sent: 0,
    placed: [],
    outOfStock: [],
    shed: [],
    failed: [],
    unanswered: [],
    notSent: 0,
    shedWithoutRetryAfter: 0,
    admittedLatenciesMs: [],
    shedLatenciesMs: [],
    expectedDeliveries: 0,
    maxInFlight: 0,
    seconds: 0,
  };
  let inFlight = 0;
  let sending = true;
  const started = performance.now();
  return new Promise((resolve) => {
    const done = () => {
      if (inFlight > 0 || sending) return;
      tally.seconds = (performance.now() - started) / 1000;
      agent.destroy();
      resolve(tally);
    };
    const send = () => {
      const key = `${keyPrefix}-${tally.sent}`;
      const { store, order } = nextOrder(stores, options.flash, { idempotencyKey: key });
      const body = JSON.stringify({ query: PLACE_ORDER, variables: order });
      const sentAt = performance.now();
      tally.sent++;
      tally.maxInFlight = Math.max(tally.maxInFlight, ++inFlight);
      const settle = () => {
        inFlight--;
        done();
      };
      const request = http.request(url, { method: "POST", agent, timeout: options.timeoutMs, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => {
          const ms = performance.now() - sentAt;
          // shed: errors alone, before any execution (a database outage's 503 is an execution result, with data)
          if (response.statusCode === 503 && text.includes('"SERVICE_UNAVAILABLE"') && !text.includes('"data"')) {
            tally.shed.push(key);
            tally.shedLatenciesMs.push(ms);
            if (!response.headers["retry-after"]) tally.shedWithoutRetryAfter++;
          } else if (text.includes('"__typename":"Order"')) {
            tally.placed.push(key);
            tally.admittedLatenciesMs.push(ms);
            tally.expectedDeliveries += store.subscribers;
          } else if (text.includes('"__typename":"InsufficientStockError"')) {
            tally.outOfStock.push(key);
            tally.admittedLatenciesMs.push(ms);
          } else {
            tally.failed.push(key);
            tally.firstFailure ??= `${response.statusCode} ${text.slice(0, 300)}`;
          }
          settle();
        });
      });
      request.on("timeout", () => request.destroy(new Error("timed out")));
      request.on("error", (error) => {
        tally.unanswered.push(key);
        tally.firstFailure ??= error.message;
        settle();
      });
      request.end(body);
    };
    const total = Math.round((rate * durationMs) / 1000);
    let due = 0;
    const timer = setInterval(() => {
      const now = Math.min(total, Math.floor((rate * (performance.now() - started)) / 1000));
      for (; due < now; due++) {
        if (inFlight >= options.maxInFlight) tally.notSent++;
        else send();
      }
      if (due >= total) {
        clearInterval(timer);
        sending = false;
        done();
      }
    }, 2);
  });
}

/** Reads the server's RSS every 250 ms and its /metrics and /health every second while a step runs. */
function watchServer(server: ServerProcess) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const watched = { rssPeakKB: 0, metricsScrapes: 0, metricsFailures: 0, healthChecks: 0, healthFailures: 0, secondsShedding: 0, maxCheckoutsWaiting: 0, maxPoolWaiting: 0, maxEventLoopLagP99Ms: 0 };
  const get = (path: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = http.get(`${server.url}${path}`, { agent, timeout: 5_000 }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      });
      request.on("timeout", () => request.destroy(new Error("timed out")));
      request.on("error", reject);
    });
  const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN);
  const rss = setInterval(() => (watched.rssPeakKB = Math.max(watched.rssPeakKB, server.rssKB())), 250);
  let stopped = false;
  const probes = (async () => {
    while (!stopped) {
      const second = sleep(1_000);
      const [metrics, health] = await Promise.allSettled([get("/metrics"), get("/health")]);
      watched.metricsScrapes++;
      watched.healthChecks++;
      if (metrics.status === "fulfilled" && metrics.value.status === 200) {
        const text = metrics.value.text;
        if (metric(text, "load_shedding_active") === 1) watched.secondsShedding++;
        watched.maxCheckoutsWaiting = Math.max(watched.maxCheckoutsWaiting, metric(text, "checkouts_waiting"));
        watched.maxPoolWaiting = Math.max(watched.maxPoolWaiting, metric(text, "db_pool_waiting"));
        watched.maxEventLoopLagP99Ms = Math.max(watched.maxEventLoopLagP99Ms, round(metric(text, "nodejs_eventloop_lag_p99_seconds") * 1000, 1));
      } else watched.metricsFailures++;
      if (health.status !== "fulfilled" || health.value.status !== 200) watched.healthFailures++;
      await second;
    }
  })();
  return {
    async stop() {
      stopped = true;
      clearInterval(rss);
      await probes;
      agent.destroy();
      return { ...watched, rssPeakMB: round(watched.rssPeakKB / 1024, 1) };
    },
  };
}

/** Of these idempotency keys, those with an order in these stores. */
async function existing(pool: pg.Pool, storeIds: readonly string[], keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0;
  const { rows } = await pool.query<{ n: number }>("SELECT count(*)::int AS n FROM orders WHERE store_id = ANY($1::uuid[]) AND idempotency_key = ANY($2::text[])", [storeIds, keys]);
  return rows[0]!.n;
}

export async function overloadScenario(pool: pg.Pool, serverEnv: Record<string, string>, options: OverloadOptions, log: (message: string) => void) {
  const stores = await seedFlashStores(pool, options.flash, "bench-overload");
  const storeIds = stores.map((store) => store.id);
  const server = await startServer(serverEnv, "overload-server");
  const clients = new Clients();
  try {
    const graphql = new URL(`${server.url}/graphql`);
    const { restock, connected } = await openFlashSale(pool, graphql, clients, stores, options.flash, (message) => log(`overload: ${message}`));
    let steps = 0;
    /** One step of orders at `rate`, after a restock (its updates heard first), with what the subscribers received. */
    const step = async (name: string, rate: number, durationMs: number, watch = false) => {
      await clients.send({ type: "step", name: `restock before ${name}` });
      await clients.settle(await restock());
      const start = await versions(pool, storeIds);
      await clients.send({ type: "step", name });
      const watching = watch ? watchServer(server) : undefined;
      const rssBeforeMB = round(server.rssKB() / 1024, 1);
      const tally = await openLoopOrders(graphql, rate, durationMs, stores, options, `ov${steps++}`);
      const watched = await watching?.stop();
      const received = await clients.settle(tally.expectedDeliveries);
      const gaps = await clients.send<"gaps">({ type: "gaps", start, end: await versions(pool, storeIds) });
      const admitted = tally.admittedLatenciesMs.sort((a, b) => a - b);
      const figures = {
        name,
        targetPerSec: rate,
        seconds: round(tally.seconds, 1),
        sent: tally.sent,
        placed: tally.placed.length,
        outOfStock: tally.outOfStock.length,
        shed: tally.shed.length,
        shedShare: round(tally.shed.length / Math.max(1, tally.sent), 3),
        failed: tally.failed.length,
        unanswered: tally.unanswered.length,
        notSent: tally.notSent,
        ...(tally.firstFailure ? { firstFailure: tally.firstFailure } : {}),
        shedWithoutRetryAfter: tally.shedWithoutRetryAfter,
        admittedPerSec: round(admitted.length / tally.seconds, 1),
        admittedP50Ms: round(percentile(admitted, 50), 1),
        admittedP99Ms: round(percentile(admitted, 99), 1),
        shedP99Ms: round(percentile(tally.shedLatenciesMs.sort((a, b) => a - b), 99), 1),
        maxInFlight: tally.maxInFlight,
        deliveries: received,
        expectedDeliveries: tally.expectedDeliveries,
        versionGaps: gaps.versionGaps,
        // sockets closed and error messages, over the whole run so far
        subscriberErrors: gaps.errors,
        ...(gaps.firstError ? { firstSubscriberError: gaps.firstError } : {}),
        rssBeforeMB,
        ...(watched ?? {}),
      };
      log(`overload ${name}: ${JSON.stringify(figures)}`);
      return { figures, tally };
    };
    const holds = (figures: Awaited<ReturnType<typeof step>>["figures"]) =>
      figures.shed === 0 &&
      figures.failed === 0 &&
      figures.unanswered === 0 &&
      figures.notSent === 0 &&
      figures.admittedPerSec >= 0.95 * figures.targetPerSec &&
      figures.admittedP99Ms <= options.flash.maxP99Ms;

    let heldRate = options.heldRate;
    const search: unknown[] = [];
    if (!heldRate) {
      // the flash sale's search, shortened: doubling while a step holds, then once halfway
      let failedRate: number | undefined;
      for (let rate = options.flash.startRate; rate <= options.flash.maxRate && rate >= 5; ) {
        const { figures } = await step(`search ${rate}/s`, rate, options.flash.stepMs);
        search.push(figures);
        if (holds(figures)) heldRate = rate;
        else failedRate = rate;
        if (holds(figures) && failedRate === undefined) rate *= 2;
        else if (!holds(figures) && !heldRate) rate = Math.round(rate / 2);
        else break;
      }
      if (heldRate && failedRate) {
        const rate = Math.round((heldRate + failedRate) / 2);
        const { figures } = await step(`search ${rate}/s`, rate, options.flash.stepMs);
        search.push(figures);
        if (holds(figures)) heldRate = rate;
      }
      if (!heldRate) throw new Error("no rate held: nothing to overload");
    }

    const held = await step(`held ${heldRate}/s`, heldRate, options.heldMs, true);
    const overload = await step(`overload ${heldRate * options.factor}/s`, heldRate * options.factor, options.overloadMs, true);
    await sleep(1_000);
    const all = [held.tally, overload.tally];
    const checks = await checkInvariants(pool, storeIds);
    const placedKeys = all.flatMap((tally) => tally.placed);
    const refusedKeys = all.flatMap((tally) => [...tally.shed, ...tally.outOfStock]);
    const o = overload.figures;
    return {
      heldRate,
      heldRateFrom: options.heldRate ? (process.env.BENCH_OVERLOAD_RATE ? "BENCH_OVERLOAD_RATE" : "flashSale") : "search",
      overloadRate: heldRate * options.factor,
      seconds: o.seconds,
      heldP99Ms: held.figures.admittedP99Ms,
      // what was shed at the held rate: 0 when the bounds leave room for what the process holds
      heldShedShare: held.figures.shedShare,
      admittedP99Ms: o.admittedP99Ms,
      // target: at most 2
      p99Ratio: round(o.admittedP99Ms / held.figures.admittedP99Ms, 2),
      admittedPerSec: o.admittedPerSec,
      shedShare: o.shedShare,
      shedP99Ms: o.shedP99Ms,
      rssPeakMB: o.rssPeakMB,
      rssBeforeMB: o.rssBeforeMB,
      // every order answered with an Order exists; none refused (503 or out of stock) does
      answeredMissing: placedKeys.length - (await existing(pool, storeIds, placedKeys)),
      refusedFound: await existing(pool, storeIds, refusedKeys),
      // no answer at all: may or may not have been placed (reported, not judged)
      unanswered: o.unanswered,
      unansweredPlaced: await existing(pool, storeIds, overload.tally.unanswered),
      failed: o.failed,
      notSent: o.notSent,
      shedWithoutRetryAfter: o.shedWithoutRetryAfter,
      oversold: checks.oversold,
      unbalancedLedgers: checks.unbalanced,
      orderNumberGaps: checks.numberGaps,
      deliveries: o.deliveries,
      expectedDeliveries: o.expectedDeliveries,
      versionGaps: o.versionGaps,
      subscriberErrors: o.subscriberErrors,
      ...(o.firstSubscriberError ? { firstSubscriberError: o.firstSubscriberError } : {}),
      // how many times shedding started over the run, by the signal that started it (few: no flapping)
      sheddingEpisodes: sheddingEpisodes(server.output()),
      metricsFailures: o.metricsFailures,
      healthFailures: o.healthFailures,
      secondsShedding: o.secondsShedding,
      maxCheckoutsWaiting: o.maxCheckoutsWaiting,
      maxPoolWaiting: o.maxPoolWaiting,
      maxEventLoopLagP99Ms: o.maxEventLoopLagP99Ms,
      // upgrades refused 503 while the subscribers connected (200 at once), each tried again after a second
      connectRefusals: connected.refusedAttempts,
      steps: [...search, held.figures, overload.figures],
    };
  } finally {
    await clients.close();
    await server.stop();
    log(`overload: the server's shedding: ${JSON.stringify(sheddingEpisodes(server.output()))}`);
  }
}

/** The server's log lines of shedding starting (LOG_LEVEL=warn), by the signal past its bound: how often it started, and why. */
function sheddingEpisodes(output: string): Record<string, number> {
  const episodes: Record<string, number> = {};
  for (const line of output.split("\n")) {
    if (!line.includes("load shedding: past a bound")) continue;
    const signal = /"signal":"(\w+)"/.exec(line)?.[1] ?? "unknown";
    episodes[signal] = (episodes[signal] ?? 0) + 1;
  }
  return episodes;
}
