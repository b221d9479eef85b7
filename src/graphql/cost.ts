import { createComplexityRule } from "@pothos/plugin-complexity";
import {
  getNamedType,
  getNullableType,
  isLeafType,
  isListType,
  Kind,
  TypeInfo,
  validate,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
  type ValueNode,
} from "graphql";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./pages.ts";

/**
 * What an operation costs (GRAPHQL_MAX_COST, checked before anything runs: ./limits.ts): the
 * objects its answer may hold at most, so the limit bounds the records one request reads. An
 * object counts 1, scalars nothing, and a list as many objects as it may hold: a page as its
 * `first` (or `last`; 50 when neither is given), any other list as its documented maximum
 * (variants 100 per item, stock levels 50 per variant...), declared beside the field with
 * `complexity: upTo(max)`. Values are @pothos/plugin-complexity's: `field` is the field's own
 * count, `multiplier` what its selection is multiplied by.
 */
export function objectCost<Context>(_args: object, _context: Context, field: GraphQLField<unknown, Context>) {
  if (isLeafType(getNamedType(field.type))) return 0;
  // a list without a declared maximum has no upper bound: asking for it is refused (test/cost-limit.test.ts finds them)
  if (isListType(getNullableType(field.type))) return { field: Infinity, multiplier: Infinity };
  return 1;
}

/** A list of at most `max` objects: each counts, and so does what is asked of each. */
export const upTo = (max: number) => ({ field: max, multiplier: max });

/**
 * A page of a connection: what is asked of each edge counts `first` (or `last`) times. A size
 * over the largest page counts as the largest: it is refused when the field runs, before any read
 * (./pages.ts), with a message that says why.
 */
export const pageCost = (args: { first?: number | null; last?: number | null }) => ({
  field: 1,
  multiplier: Math.min(Math.max(args.first ?? 0, args.last ?? 0) || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
});

/** A connection's `edges`: its page's size is counted on the connection field already. */
export const EDGES_COST = { field: 0, multiplier: 1 };

/**
 * A list without a documented maximum whose objects hold plain values only (a sync run's unmatched
 * variants, kept in the run's row; a store's storefront tokens, revoked ones too): read whole by
 * one query, it cannot fan out into further reads, and counts as one read. test/cost-limit.test.ts
 * checks that its objects keep to plain values.
 */
export const FLAT_LIST = { field: 1, multiplier: 1 };

/**
 * Options of every dataloader: keys are read in batches of at most 1,000. A query within the cost
 * limit may name more records than one statement takes parameters (PostgreSQL 65,535; Prisma
 * refuses past 32,766), a composite key taking two of them each.
 */
export const LOADER_OPTIONS = { maxBatchSize: 1_000 };

export type OperationArgs = {
  schema: GraphQLSchema;
  document: DocumentNode;
  variableValues?: unknown;
  operationName?: string | null;
  contextValue: unknown;
};

/** Costs of documents that do not depend on their variables, by operation name: most requests are such (a checkout). */
const fixedCosts = new WeakMap<DocumentNode, Map<string, number>>();
const dependsOnVariables = new WeakMap<DocumentNode, boolean>();

/**
 * The cost of the operation a request runs, for its variables (plugin-complexity's measure, as
 * a validation rule over the document); null when its variables do not fit its definitions. A
 * document whose costs take no variable (no `first: $first`) is measured once (no cost reads the
 * context).
 */
export function operationCost(args: OperationArgs): number | null {
  const name = args.operationName ?? "";
  const fixed = fixedCosts.get(args.document)?.get(name);
  if (fixed !== undefined) return fixed;
  let cost: number | null = null;
  const rule = createComplexityRule({
    context: args.contextValue as object,
    variableValues: (args.variableValues ?? {}) as Record<string, unknown>,
    operationName: args.operationName ?? null,
    validate: ({ complexity }) => {
      cost = complexity;
    },
  });
  validate(args.schema, args.document, [rule]);
  if (cost !== null && !costTakesVariables(args.schema, args.document)) {
    const byName = fixedCosts.get(args.document) ?? new Map<string, number>();
    fixedCosts.set(args.document, byName.set(name, cost));
  }
  return cost;
}

/** Whether a field whose cost is computed from its arguments (a page's `first`) is given a variable in the document. */
function costTakesVariables(schema: GraphQLSchema, document: DocumentNode): boolean {
  let found = dependsOnVariables.get(document);
  if (found !== undefined) return found;
  found = false;
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Field(node) {
        const cost = typeInfo.getFieldDef()?.extensions.complexity;
        if (typeof cost === "function" && cost !== objectCost && node.arguments?.some((argument) => holdsVariable(argument.value))) found = true;
      },
    }),
  );
  dependsOnVariables.set(document, found);
  return found;
}

function holdsVariable(value: ValueNode): boolean {
  if (value.kind === Kind.VARIABLE) return true;
  if (value.kind === Kind.LIST) return value.values.some(holdsVariable);
  if (value.kind === Kind.OBJECT) return value.fields.some((field) => holdsVariable(field.value));
  return false;
}
