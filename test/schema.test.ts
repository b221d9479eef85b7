import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { printedSchema } from "../src/cli/print-schema.ts";
import { databaseUrl } from "./support/harness.ts";

const CHECKER = "../shared/tools/check-contract.mjs";

/**
 * The contracts schema.graphql keeps: the shared contract, then each extension the service has
 * taken on, read together with it (the checker's `--also`, e.g. contract-variants.graphql once
 * variants and warehouses are built).
 */
const CONTRACTS: { name: string; also: string[] }[] = [
  { name: "contract.graphql", also: [] },
  { name: "contract.graphql with contract-variants.graphql", also: ["contract-variants.graphql"] },
  {
    name: "contract.graphql with contract-variants.graphql and contract-holds-alerts-bulk.graphql",
    also: ["contract-variants.graphql", "contract-holds-alerts-bulk.graphql"],
  },
];

describe("the GraphQL schema", () => {
  it("schema.graphql is the printed Pothos schema (run `npm run schema:print` after changing types)", () => {
    expect(readFileSync("schema.graphql", "utf8")).toBe(printedSchema());
  });

  // A check that cannot run must not pass: in CI a missing or crashing checker fails the test;
  // elsewhere (a clone without ../shared) the test says it was skipped, and why.
  it.for(CONTRACTS)("keeps the whole of $name", ({ also }, context) => {
    if (!existsSync(CHECKER)) {
      const missing = `the contract checker ${CHECKER} is not there, so the contract was not checked`;
      if (process.env.CI === "true") expect.fail(missing);
      console.warn(`schema.test.ts: skipped: ${missing} (CI=true fails here)`);
      context.skip(missing);
    }
    const run = spawnSync(process.execPath, [CHECKER, "schema.graphql", ...also.flatMap((file) => ["--also", file])], {
      encoding: "utf8",
    });
    const verdict = run.stdout.trim().split("\n").at(-1) ?? "";
    // exit 0: kept; exit 1 with its closing line: parts broken; anything else: the checker itself failed
    if (!/ (kept|broken)$/.test(verdict) || (run.status !== 0 && run.status !== 1)) {
      expect.fail(`the contract checker did not finish (exit ${run.status ?? run.signal}): ${run.stderr || run.stdout}`);
    }
    const broken = run.stdout.split("\n").filter((line) => /^[A-Z_]+: /.test(line));
    expect(broken).toEqual([]);
    expect(run.status).toBe(0);
  });
});

/**
 * The migrations must build exactly the database schema.prisma describes. Prisma's own diff
 * needs its native schema engine, so this compares the migrated test database with the
 * datamodel that Prisma's schema parser (wasm) reads from schema.prisma.
 */
describe("migrations and schema.prisma", () => {
  const require = createRequire(import.meta.url);
  const wasm = require("@prisma/prisma-schema-wasm") as { get_dmmf(params: string): string };
  const dmmf = JSON.parse(
    wasm.get_dmmf(JSON.stringify({ prismaSchema: readFileSync("prisma/schema.prisma", "utf8") })),
  ).datamodel as Datamodel;

  it("agree on tables, columns, enums, keys, indexes and foreign keys", async () => {
    const client = new pg.Client({ connectionString: databaseUrl() });
    await client.connect();
    try {
      expect(await describeDatabase(client)).toEqual(describeDatamodel(dmmf));
    } finally {
      await client.end();
    }
  });
});

type Field = {
  name: string;
  dbName?: string | null;
  kind: string;
  type: string;
  isRequired: boolean;
  isList: boolean;
  nativeType?: [string, string[]] | null;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
  hasDefaultValue: boolean;
  default?: unknown;
};
type Model = { name: string; dbName: string | null; fields: Field[] };
type Datamodel = {
  models: Model[];
  enums: { name: string; values: { name: string }[] }[];
  indexes: { model: string; type: string; dbName?: string | null; fields: { name: string; sortOrder?: string }[] }[];
};

const SCALAR_TYPES: Record<string, string> = {
  String: "text",
  Int: "integer",
  BigInt: "bigint",
  Boolean: "boolean",
  Bytes: "bytea",
  DateTime: "timestamp(3) without time zone",
  Decimal: "numeric(65,30)",
};

function columnType(field: Field): string {
  if (field.kind === "enum") return field.type;
  const native = field.nativeType;
  if (native) {
    const [name, args] = native;
    const map: Record<string, string> = { Uuid: "uuid", Timestamptz: `timestamp(${args[0] ?? 3}) with time zone`, Decimal: `numeric(${args.join(",")})` };
    return map[name] ?? name.toLowerCase();
  }
  return `${SCALAR_TYPES[field.type]!}${field.isList ? "[]" : ""}`;
}

function describeDatamodel(datamodel: Datamodel) {
  const tableOf = new Map(datamodel.models.map((model) => [model.name, model.dbName ?? model.name]));
  const columnOf = (modelName: string, fieldName: string) => {
    const field = datamodel.models.find((m) => m.name === modelName)!.fields.find((f) => f.name === fieldName)!;
    return field.dbName ?? field.name;
  };
  const tables: Record<string, unknown> = {};
  for (const model of datamodel.models) {
    const table = tableOf.get(model.name)!;
    const columns = model.fields
      .filter((field) => field.kind !== "object")
      .map((field) => `${field.dbName ?? field.name} ${columnType(field)}${field.isRequired ? " not null" : ""}${field.hasDefaultValue ? " default" : ""}`)
      .sort();
    const foreignKeys = model.fields
      .filter((field) => field.kind === "object" && field.relationFromFields?.length)
      .map((field) => {
        const from = field.relationFromFields!.map((name) => columnOf(model.name, name)).join(",");
        const to = field.relationToFields!.map((name) => columnOf(field.type, name)).join(",");
        const onDelete = (field.relationOnDelete ?? (field.isRequired ? "Restrict" : "SetNull")).toUpperCase();
        const onUpdate = (field.relationOnUpdate ?? "Cascade").toUpperCase();
        return `(${from}) -> ${tableOf.get(field.type)}(${to}) on delete ${onDelete} on update ${onUpdate}`;
      })
      .sort();
    const indexes = datamodel.indexes
      .filter((index) => index.model === model.name)
      .map((index) => {
        const columns = index.fields.map((f) => `${columnOf(model.name, f.name)}${f.sortOrder === "desc" ? " desc" : ""}`).join(",");
        return `${index.type === "id" ? "primary" : index.type === "unique" ? "unique" : "index"} (${columns})`;
      })
      .sort();
    tables[table] = { columns, foreignKeys, indexes };
  }
  const enums = Object.fromEntries(datamodel.enums.map((e) => [e.name, e.values.map((v) => v.name)]));
  return { tables, enums };
}

async function describeDatabase(client: pg.Client) {
  const tables: Record<string, { columns: string[]; foreignKeys: string[]; indexes: string[] }> = {};
  const { rows: columns } = await client.query(`
    SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
           a.attnotnull AS not_null, a.atthasdef AS has_default
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
       AND c.relname <> '_prisma_migrations'`);
  for (const column of columns) {
    tables[column.table] ??= { columns: [], foreignKeys: [], indexes: [] };
    const type = String(column.type).replace(/^"(.*)"$/, "$1");
    tables[column.table]!.columns.push(
      `${column.column} ${type}${column.not_null ? " not null" : ""}${column.has_default ? " default" : ""}`,
    );
  }
  const { rows: indexes } = await client.query(`
    SELECT t.relname AS table, i.indisprimary AS primary, i.indisunique AS unique,
           pg_get_indexdef(i.indexrelid) AS definition
      FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND t.relname <> '_prisma_migrations'`);
  for (const index of indexes) {
    const columnsPart = /\((.*)\)$/.exec(index.definition)![1]!.replaceAll('"', "").replace(/ DESC/g, " desc").replace(/, /g, ",");
    tables[index.table]!.indexes.push(`${index.primary ? "primary" : index.unique ? "unique" : "index"} (${columnsPart})`);
  }
  const { rows: foreignKeys } = await client.query(`
    SELECT t.relname AS table, pg_get_constraintdef(c.oid) AS definition
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND c.contype = 'f'`);
  for (const fk of foreignKeys) {
    const match = /FOREIGN KEY \((.*?)\) REFERENCES (\w+)\((.*?)\)(.*)$/.exec(fk.definition)!;
    const actions = match[4]!;
    const onDelete = /ON DELETE (CASCADE|RESTRICT|SET NULL|SET DEFAULT|NO ACTION)/.exec(actions)?.[1] ?? "NO ACTION";
    const onUpdate = /ON UPDATE (CASCADE|RESTRICT|SET NULL|SET DEFAULT|NO ACTION)/.exec(actions)?.[1] ?? "NO ACTION";
    const prismaAction = (sql: string) => sql.replace(" ", "").replace("NOACTION", "NOACTION");
    tables[fk.table]!.foreignKeys.push(
      `(${match[1]!.replace(/, /g, ",")}) -> ${match[2]}(${match[3]!.replace(/, /g, ",")}) on delete ${prismaAction(onDelete)} on update ${prismaAction(onUpdate)}`,
    );
  }
  for (const table of Object.values(tables)) {
    table.columns.sort();
    table.indexes.sort();
    table.foreignKeys.sort();
  }
  const { rows: enumRows } = await client.query(`
    SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS values
      FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'public' GROUP BY t.typname`);
  const enums = Object.fromEntries(enumRows.map((row) => [row.name, row.values]));
  return { tables, enums };
}
