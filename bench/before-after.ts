/**
 * `beforeAfter`: this version's checkout against an earlier one's, under the same load, in
 * alternating turns of bench/order-probe.ts (hot: one item; spread: one of a store's 10,000;
 * multiline: three of them; BENCH_BEFORE_SCENARIOS, default hot,spread), so
 * that whatever else the machine does weighs on both alike. The earlier version is
 * BENCH_BEFORE_REF (default cbc408a: the service before variants and warehouses, issue 11, whose
 * done-criterion is a checkout no slower on items without options), extracted with `git archive`
 * into BENCH_BEFORE_DIR (default a directory under the system's temp dir) and installed there with
 * `npm ci` once; the probe file of this version is copied into it and run there with its own
 * bench support and its own database.
 */
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BENCH_DATABASE, round } from "./support.ts";

/** What each scenario orders: of a store of how many items, how many distinct ones per order (bench/order-probe.ts). */
const PROBED = { hot: [1, 1], spread: [10_000, 1], multiline: [10_000, 3] } as const;
type ProbedScenario = keyof typeof PROBED;

export type BeforeAfterOptions = { ref: string; dir: string; rounds: number; seconds: number; scenarios: ProbedScenario[] };

export function beforeAfterOptions(durationMs: number): BeforeAfterOptions {
  const ref = process.env.BENCH_BEFORE_REF ?? "cbc408a";
  return {
    ref,
    dir: resolve(process.env.BENCH_BEFORE_DIR ?? join(tmpdir(), `inventory-before-${ref}`)),
    rounds: Number(process.env.BENCH_BEFORE_ROUNDS ?? 2),
    seconds: Math.max(5, Math.round(durationMs / 1000 / 2)),
    scenarios: (process.env.BENCH_BEFORE_SCENARIOS ?? "hot,spread").split(",").map((name) => {
      if (!(name in PROBED)) throw new Error(`BENCH_BEFORE_SCENARIOS: no scenario "${name}" (${Object.keys(PROBED).join(", ")})`);
      return name as ProbedScenario;
    }),
  };
}

type Probe = {
  ordersPerSec: number;
  failed: number;
  p99Ms: number;
  serverCpuMsPerOrder: number;
  postgresCpuMsPerOrder: number;
  loadCpuMsPerOrder: number;
};

/** The earlier version's files and dependencies, made once. */
function prepare(options: BeforeAfterOptions, log: (message: string) => void) {
  if (!existsSync(join(options.dir, "package.json"))) {
    log(`beforeAfter: extracting ${options.ref} into ${options.dir}`);
    mkdirSync(options.dir, { recursive: true });
    execFileSync("bash", ["-c", `git archive --format=tar "$0" | tar -x -C "$1"`, options.ref, options.dir], { stdio: ["ignore", "ignore", "inherit"] });
  }
  if (!existsSync(join(options.dir, "node_modules"))) {
    log(`beforeAfter: npm ci in ${options.dir}`);
    execFileSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: options.dir, stdio: ["ignore", "ignore", "inherit"] });
  }
  copyFileSync("bench/order-probe.ts", join(options.dir, "bench/order-probe.ts"));
}

/** One turn of the probe in `cwd`, on a database of its own. */
function probe(cwd: string, database: string, [items, lines]: readonly [number, number], seconds: number): Promise<Probe> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(cwd, "node_modules/.bin/tsx"), ["bench/order-probe.ts"], {
      cwd,
      env: { ...process.env, BENCH_DATABASE: database, PROBE_ITEMS: String(items), PROBE_LINES: String(lines), PROBE_SECONDS: String(seconds), BENCH_PROFILE: "" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk) => (out += chunk));
    child.on("error", reject);
    child.on("exit", (code) => {
      const last = out.trim().split("\n").at(-1) ?? "";
      if (code !== 0 || !last.startsWith("{")) reject(new Error(`the probe in ${cwd} exited with ${code}: ${out.slice(-500)}`));
      else resolvePromise(JSON.parse(last) as Probe);
    });
  });
}

const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function summary(turns: readonly Probe[]) {
  return {
    ordersPerSec: Math.round(mean(turns.map((turn) => turn.ordersPerSec))),
    turns: turns.map((turn) => turn.ordersPerSec),
    failed: turns.reduce((sum, turn) => sum + turn.failed, 0),
    p99Ms: Math.max(...turns.map((turn) => turn.p99Ms)),
    serverCpuMsPerOrder: round(mean(turns.map((turn) => turn.serverCpuMsPerOrder))),
    postgresCpuMsPerOrder: round(mean(turns.map((turn) => turn.postgresCpuMsPerOrder))),
    loadCpuMsPerOrder: round(mean(turns.map((turn) => turn.loadCpuMsPerOrder))),
  };
}

export async function beforeAfterScenario(options: BeforeAfterOptions, log: (message: string) => void) {
  prepare(options, log);
  const results: Record<string, unknown> = { ref: options.ref, rounds: options.rounds, secondsEach: options.seconds };
  for (const name of options.scenarios) {
    const before: Probe[] = [];
    const after: Probe[] = [];
    for (let i = 0; i < options.rounds; i++) {
      // the earlier version first in odd rounds, this one first in even rounds
      const sides = i % 2 === 0 ? ([[options.dir, before, "before"], [process.cwd(), after, "after"]] as const) : ([[process.cwd(), after, "after"], [options.dir, before, "before"]] as const);
      for (const [cwd, turns, side] of sides) {
        const turn = await probe(cwd, `${BENCH_DATABASE}_${side}`, PROBED[name], options.seconds);
        log(`beforeAfter.${name} ${side}: ${JSON.stringify(turn)}`);
        turns.push(turn);
      }
    }
    const b = summary(before);
    const a = summary(after);
    results[name] = { before: b, after: a, ratio: round(a.ordersPerSec / b.ordersPerSec) };
  }
  return results;
}
