/**
 * `storefrontReads`: a storefront's catalog page, `store(slug) { items(first: 50) }` with each
 * item's variants and availability (the storefront page's own query, src/storefront/client/api.ts),
 * over GraphQL HTTP with autocannon, against the floor of the same rows read by Node `pg`
 * (bench/pg-catalog.cjs: one named statement per page), in alternating rounds at the same
 * concurrency. A popular store is read far more often than it sells.
 */
import { resolve } from "node:path";
import autocannon from "autocannon";
import type pg from "pg";
import { busyPercent, machineCpu, processCpuMs, round, seedVariantStore, type ServerProcess } from "./support.ts";
import { runToJson } from "./floor.ts";

const PAGE_SIZE = 50;

// the storefront page's fields (src/storefront/client/api.ts ITEM_FIELDS), a page of 50
const CATALOG_PAGE = `query StorefrontItems($slug: String!, $first: Int!) {
  store(slug: $slug) {
    items(first: $first) {
      edges { node { id name type price availability availableQuantity version options { name values }
                     variants { id options { name value } price availability availableQuantity } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export type StorefrontReadsOptions = { concurrency: number; durationMs: number; rounds: number; warmupMs: number };

/** A catalog of 200 items sold in 3 sizes each, in two fulfilling warehouses (a page: 50 items, 150 variants). */
export const seedCatalog = (pool: pg.Pool) => seedVariantStore(pool, "bench-catalog", 200, 1_000);

export async function storefrontReadsScenario(
  store: { id: string; slug: string },
  server: ServerProcess,
  options: StorefrontReadsOptions,
  databaseUrl: string,
) {
  const body = JSON.stringify({ query: CATALOG_PAGE, variables: { slug: store.slug, first: PAGE_SIZE } });
  let firstWrong: string | undefined;
  const serviceTurn = async (durationMs: number) => {
    let pages = 0;
    const cpuBefore = processCpuMs(server.child.pid!);
    const machineBefore = machineCpu();
    const result = await autocannon({
      url: `${server.url}/graphql`,
      connections: options.concurrency,
      pipelining: 1,
      duration: durationMs / 1000,
      requests: [
        {
          method: "POST",
          path: "/graphql",
          headers: { "content-type": "application/json" },
          body,
          onResponse: (status, response) => {
            // a full page: 50 items, the next page announced
            if (status === 200 && response.includes('"hasNextPage":true')) pages++;
            else firstWrong ??= response.slice(0, 300);
          },
        },
      ],
    });
    return {
      pages,
      ms: result.duration * 1000,
      p99: result.latency.p99,
      cpuMs: processCpuMs(server.child.pid!) - cpuBefore,
      busy: busyPercent(machineBefore, machineCpu()),
      failures: result.errors + result.timeouts + result.non2xx,
    };
  };
  const floorTurn = async (durationMs: number) => {
    const machineBefore = machineCpu();
    const result = await runToJson<{ secs: number; reads: number; errors: number; rowsPerPage: number; lat_ms: { p99: number } }>(
      resolve("bench/pg-catalog.cjs"),
      ["--store", store.id, "--page", String(PAGE_SIZE), "--pool", String(options.concurrency), "--workers", String(options.concurrency),
       "--secs", String(durationMs / 1000), "--url", databaseUrl],
    );
    return { ...result, busy: busyPercent(machineBefore, machineCpu()) };
  };

  await serviceTurn(options.warmupMs);
  const roundMs = options.durationMs / options.rounds;
  const service = { pages: 0, ms: 0, cpuMs: 0, failures: 0, p99s: [] as number[], busy: [] as number[] };
  const floor = { reads: 0, ms: 0, errors: 0, p99s: [] as number[], busy: [] as number[], rowsPerPage: 0 };
  for (let i = 0; i < options.rounds; i++) {
    const s = await serviceTurn(roundMs);
    service.pages += s.pages;
    service.ms += s.ms;
    service.cpuMs += s.cpuMs;
    service.failures += s.failures;
    service.p99s.push(s.p99);
    service.busy.push(s.busy);
    const f = await floorTurn(roundMs);
    floor.reads += f.reads;
    floor.ms += f.secs * 1000;
    floor.errors += f.errors;
    floor.p99s.push(f.lat_ms.p99);
    floor.busy.push(f.busy);
    floor.rowsPerPage = f.rowsPerPage;
  }
  if (firstWrong) console.error(`[storefrontReads] first answer that was not a full page: ${firstWrong}`);
  const perSec = (service.pages / service.ms) * 1000;
  const floorPerSec = (floor.reads / floor.ms) * 1000;
  return {
    perSec: Math.round(perSec),
    p99Ms: Math.max(...service.p99s),
    floorPerSec: Math.round(floorPerSec),
    floorRatio: round(perSec / floorPerSec),
    floorP99Ms: round(Math.max(...floor.p99s), 1),
    serverCpuMsPerRead: round(service.cpuMs / service.pages),
    itemsPerPage: PAGE_SIZE,
    variantsPerPage: PAGE_SIZE * 3,
    failures: service.failures + floor.errors,
    machineBusyPercent: { service: service.busy, floor: floor.busy },
    concurrency: options.concurrency,
    secondsEach: round(service.ms / 1000, 1),
  };
}
