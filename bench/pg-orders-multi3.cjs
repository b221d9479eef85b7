// The Node-client floor of ../shared/floors/pg-orders.cjs for its 3-line case, which only pgbench
// had (multi3.sql): 3 lines on 3 distinct random items out of 10,000, locked in ascending id order.
// Same pool, workers, named statements (one round trip each) and output line as pg-orders.cjs.
// Usage: NODE_PATH=node_modules node bench/pg-orders-multi3.cjs --pool 16 --workers 16 --secs 15 --url URL
const { Pool } = require('pg');

const args = Object.fromEntries(process.argv.slice(2).reduce((a, v, i, arr) => (v.startsWith('--') ? a.concat([[v.slice(2), arr[i + 1]]]) : a), []));
const POOL = +(args.pool || 8);
const WORKERS = +(args.workers || POOL);
const SECS = +(args.secs || 20);
const URL = args.url || 'postgresql://postgres:postgres@127.0.0.1:5432/bench_limits';
const NITEMS = 10000;

const Q = {
  order: { name: 'ins_order', text: "INSERT INTO orders(store_id, status) VALUES ($1, 'placed') RETURNING id" },
  upd: { name: 'upd_item', text: 'UPDATE items SET quantity = quantity - $1, version = version + 1 WHERE id = $2 AND (quantity >= $1 OR sell_without_stock) RETURNING quantity' },
  line: { name: 'ins_line', text: 'INSERT INTO order_lines(order_id, item_id, quantity) VALUES ($1, $2, $3)' },
  mv: { name: 'ins_mv', text: "INSERT INTO stock_movements(item_id, delta, reason, order_id) VALUES ($1, $2, 'order', $3)" },
};

const pool = new Pool({ connectionString: URL, max: POOL });

/** 3 distinct items as multi3.sql draws them: x1 uniform, x2 and x3 distinct offsets from it, sorted. */
function threeItems() {
  const x1 = 1 + Math.floor(Math.random() * NITEMS);
  const d2 = 1 + Math.floor(Math.random() * (NITEMS - 2));
  const d3 = d2 + 1 + Math.floor(Math.random() * (NITEMS - 1 - d2));
  return [x1, 1 + ((x1 - 1 + d2) % NITEMS), 1 + ((x1 - 1 + d3) % NITEMS)].sort((a, b) => a - b);
}

async function placeOrder(itemIds, n) {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const o = await c.query({ name: Q.order.name, text: Q.order.text, values: [1] });
    const oid = o.rows[0].id;
    for (const itemId of itemIds) {
      const u = await c.query({ name: Q.upd.name, text: Q.upd.text, values: [n, itemId] });
      if (u.rowCount !== 1) { await c.query('ROLLBACK'); return false; }
      await c.query({ name: Q.line.name, text: Q.line.text, values: [oid, itemId, n] });
      await c.query({ name: Q.mv.name, text: Q.mv.text, values: [itemId, -n, oid] });
    }
    await c.query('COMMIT');
    return true;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

(async () => {
  const cs = await Promise.all(Array.from({ length: POOL }, () => pool.connect()));
  cs.forEach((c) => c.release());

  const lat = [];
  let ok = 0, rejected = 0, errors = 0;
  const t0 = nowMs();
  const deadline = t0 + SECS * 1000;
  const cpu0 = process.cpuUsage();
  async function worker() {
    while (nowMs() < deadline) {
      const s = nowMs();
      try {
        if (await placeOrder(threeItems(), 1)) ok++; else rejected++;
        lat.push(nowMs() - s);
      } catch (e) {
        errors++;
        if (errors < 5) console.error(e.message);
      }
    }
  }
  await Promise.all(Array.from({ length: WORKERS }, worker));
  const elapsed = (nowMs() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await pool.end();
  lat.sort((a, b) => a - b);
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
  const res = {
    case: 'multi3', pool: POOL, workers: WORKERS, secs: +elapsed.toFixed(2), orders: ok, rejected, errors,
    tps: +(ok / elapsed).toFixed(1),
    lat_ms: { p50: +pct(0.5).toFixed(3), p99: +pct(0.99).toFixed(3), max: +lat[lat.length - 1].toFixed(3) },
    node_cpu_pct_of_one_core: +((100 * (cpu.user + cpu.system)) / 1e6 / elapsed).toFixed(1),
    node_cpu_us_per_order: +((cpu.user + cpu.system) / Math.max(ok, 1)).toFixed(1),
  };
  console.log(JSON.stringify(res));
})().catch((e) => { console.error(e); process.exit(1); });
