/**
 * SQL written as tagged templates: every `${value}` becomes a numbered parameter in the order it
 * appears, so a statement names its parameters instead of counting them, and fragments compose
 * (`sql\`... ${otherFragment} ...\``). Prisma's own implementation (sql-template-tag), so raw
 * statements and Prisma's `$queryRaw` speak the same type.
 */
import { Prisma } from "../generated/prisma/client.ts";

export const sql = Prisma.sql;
export const join = Prisma.join;
export const raw = Prisma.raw;
export const empty = Prisma.empty;
export type Sql = Prisma.Sql;
