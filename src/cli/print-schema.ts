import { writeFileSync } from "node:fs";
import { lexicographicSortSchema, printSchema } from "graphql";
import { schema } from "../graphql/schema.ts";

/** `npm run schema:print`: writes schema.graphql from the Pothos schema (a test keeps it current). */
export const printedSchema = () => `${printSchema(lexicographicSortSchema(schema))}\n`;

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split("/").pop()!)) {
  writeFileSync(new URL("../../schema.graphql", import.meta.url), printedSchema());
  console.log("schema.graphql written");
}
