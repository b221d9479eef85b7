import { z } from "zod";
import { invalidInput, type OperationError } from "./errors.ts";

/**
 * The input rules of the domain, enforced here once whichever way a request arrives
 * (GraphQL, CLI, accounting sync). A broken rule is an INVALID_INPUT value naming the field.
 */

/** Quantities are kept within +-1e9 so that no sum of two of them overflows a 32-bit integer. */
export const MAX_ABS_QUANTITY = 1_000_000_000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids that cannot exist are simply not found: no database round trip, no SQL error. */
export const isRecordId = (id: string) => UUID.test(id);

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A store slug that breaks the slug rule names no store: it is simply not found. */
export const isStoreSlug = (slug: string) => SLUG.test(slug);

// Control characters have no place in what a merchant or a shopper types (PostgreSQL refuses NUL
// outright); a note may still span lines.
const SINGLE_LINE = /^\P{Cc}*$/u;
const MULTI_LINE = /^(?:\P{Cc}|[\t\n\r])*$/u;
const noControlCharacters = "must not contain control characters";

const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .regex(SINGLE_LINE, noControlCharacters);

export const rules = {
  name: text(200),
  sku: text(64).regex(/^[\p{L}\p{N}._\-/ ]+$/u, "may contain letters, digits, spaces and . _ - / only"),
  slug: z
    .string()
    .trim()
    .toLowerCase()
    .regex(SLUG, "must be 1-63 lowercase letters, digits or dashes, not starting or ending with a dash"),
  note: z.string().trim().max(500, "must be at most 500 characters").regex(MULTI_LINE, noControlCharacters),
  /** money: a non-negative decimal string with at most 2 decimal places */
  price: z
    .string()
    .trim()
    .regex(/^\d{1,10}(\.\d{1,2})?$/, "must be a non-negative decimal with at most 2 decimal places, e.g. \"19.90\""),
  stockQuantity: z.number().int().min(-MAX_ABS_QUANTITY).max(MAX_ABS_QUANTITY),
  initialQuantity: z.number().int().min(0, "must not be negative").max(MAX_ABS_QUANTITY),
  delta: z.number().int().min(-MAX_ABS_QUANTITY).max(MAX_ABS_QUANTITY).refine((d) => d !== 0, "must not be 0"),
  /** units in one order line */
  orderQuantity: z.number().int().min(1, "must be at least 1").max(10_000, "must be at most 10000"),
  /** a warehouse's place in the allocation order: lower fulfils first */
  warehousePriority: z.number().int().min(0).max(1_000_000),
  customerName: z.string().trim().max(200, "must be at most 200 characters").regex(SINGLE_LINE, noControlCharacters),
  customerEmail: z.string().trim().max(254).pipe(z.email("must be an e-mail address")),
  idempotencyKey: text(200),
  /** what a list of items is searched for, by name or SKU */
  search: z.string().trim().max(200, "must be at most 200 characters").regex(SINGLE_LINE, noControlCharacters),
};

/** Parses `input` with `schema`; the first broken rule becomes an INVALID_INPUT value. */
export function check<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> | OperationError {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const field = issue.path.map(String).join(".") || null;
  return invalidInput(field ? `${field} ${issue.message}` : issue.message, field ?? undefined);
}
