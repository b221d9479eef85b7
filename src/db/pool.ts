import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { Prisma, PrismaClient } from "../generated/prisma/client.ts";
import type { Logger } from "../logger.ts";

// INT8 (counts, bigserial ids) as JS numbers where they fit; movement ids stay far below 2^53.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

// Raw statements read DECIMAL as Prisma reads it, so money has one shape whichever path read it.
// (Prisma's adapter sets its own parsers on every query it runs; this only reaches the pool's own.)
const rawTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.NUMERIC && format !== "binary"
      ? (value: string) => new Prisma.Decimal(value)
      : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export type Database = {
  /** Raw SQL for stock changes: single guarded statements and short row-locked transactions. */
  pool: pg.Pool;
  /** Reads for the GraphQL layer (Pothos prisma plugin) over the same pool. */
  prisma: PrismaClient;
  close(): Promise<void>;
};

/**
 * The session settings the service wants on every connection: a statement that hangs (lost
 * connection, lock storm) fails instead of holding a request forever, and a transaction left
 * open is ended. Sent when connecting, unless DATABASE_URL says `pgbouncer=true`: PgBouncer in
 * transaction pooling refuses such startup parameters (and could not keep them per client), so
 * there its pgbouncer.ini sets the same values on each server connection (`connect_query`,
 * deploy/pgbouncer.ini).
 */
export const SESSION_SETTINGS = { statement_timeout: 15_000, idle_in_transaction_session_timeout: 30_000 } as const;

/** Whether the connection string names PgBouncer (`?pgbouncer=true`, as Prisma spells it). */
export function throughPgBouncer(url: string): boolean {
  try {
    return new URL(url).searchParams.get("pgbouncer") === "true";
  } catch {
    return false;
  }
}

export function openDatabase(url: string, options: { poolSize: number; logger: Logger }): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    ...(throughPgBouncer(url) ? {} : SESSION_SETTINGS),
    application_name: "store-inventory",
    types: rawTypes,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", (error) => options.logger.warn({ err: error }, "idle database connection lost"));
  // Nor a checked-out one (a transaction, an advisory lock held over a call elsewhere): its client
  // emits "error" besides failing the query in flight, and pg-pool listens to idle clients only.
  // The failed query reaches its caller, which releases the connection as broken.
  pool.on("connect", (client) =>
    client.on("error", (error) => options.logger.debug({ err: error }, "database connection lost while in use")),
  );
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    pool,
    prisma,
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
