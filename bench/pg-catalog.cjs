// The floor of a storefront's catalog page: the rows `store(slug) { items(first: 50) { ... variants } }`
// answers, read by Node `pg` in one named statement per page (a Pool of --pool, --workers async
// workers) with nothing else: no HTTP, GraphQL or ORM. Prints one JSON line like pg-orders.cjs.
// Usage: node pg-catalog.cjs --store STORE_ID --pool 16 --workers 16 --secs 5 --url URL
const { Pool } = require("pg");

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, arr) => (v.startsWith("--") ? a.concat([[v.slice(2), arr[i + 1]]]) : a), []));
const POOL = +(args.pool || 16);
const WORKERS = +(args.workers || POOL);
const SECS = +(args.secs || 5);
const PAGE = +(args.page || 50);

// the public's view: no HIDDEN item, no HIDDEN variant but the default one; by name, then id
const PAGE_QUERY = {
  name: "catalog_page",
  text: `SELECT i.id, i.name, i.type, i.price, i.availability, i.quantity - i.committed_quantity AS available, i.version, i.options,
                (SELECT json_agg(json_build_object('id', v.id, 'options', v.options, 'price', v.price, 'availability', v.availability,
                                                   'available', v.quantity - v.committed_quantity) ORDER BY v.position)
                   FROM variants v WHERE v.store_id = i.store_id AND v.item_id = i.id AND (v.availability <> 'HIDDEN' OR v.is_default)) AS variants
           FROM items i
          WHERE i.store_id = $1 AND i.availability <> 'HIDDEN'
          ORDER BY i.name, i.id LIMIT $2`,
};

const pool = new Pool({ connectionString: args.url, max: POOL });
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

(async () => {
  const clients = await Promise.all(Array.from({ length: POOL }, () => pool.connect()));
  clients.forEach((client) => client.release());
  const latencies = [];
  let reads = 0, errors = 0, rows = 0;
  const t0 = nowMs();
  const deadline = t0 + SECS * 1000;
  const cpu0 = process.cpuUsage();
  async function worker() {
    while (nowMs() < deadline) {
      const started = nowMs();
      try {
        const result = await pool.query({ ...PAGE_QUERY, values: [args.store, PAGE + 1] });
        rows = result.rowCount;
        reads++;
        latencies.push(nowMs() - started);
      } catch (error) {
        errors++;
        if (errors < 5) console.error(error.message);
      }
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, worker));
  const elapsed = (nowMs() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await pool.end();
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  console.log(JSON.stringify({
    secs: +elapsed.toFixed(2), reads, errors, rowsPerPage: rows, perSec: +(reads / elapsed).toFixed(1),
    lat_ms: { p50: +pct(0.5).toFixed(3), p99: +pct(0.99).toFixed(3) },
    node_cpu_us_per_read: +((cpu.user + cpu.system) / Math.max(reads, 1)).toFixed(1),
  }));
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
