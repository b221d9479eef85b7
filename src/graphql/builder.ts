import SchemaBuilder from "@pothos/core";
import ComplexityPlugin from "@pothos/plugin-complexity";
import DataloaderPlugin from "@pothos/plugin-dataloader";
import ErrorsPlugin from "@pothos/plugin-errors";
import PrismaPlugin from "@pothos/plugin-prisma";
import RelayPlugin from "@pothos/plugin-relay";
import ScopeAuthPlugin from "@pothos/plugin-scope-auth";
import { DateTimeResolver } from "graphql-scalars";
import type PrismaTypes from "../generated/pothos-types.ts";
import { getDatamodel } from "../generated/pothos-types.ts";
import { authScopes, unauthorized, type AdminContext, type GraphQLContext } from "./context.ts";
import { EDGES_COST, objectCost } from "./cost.ts";
import { DecimalScalar } from "./decimal.ts";
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from "./pages.ts";

/** The one SchemaBuilder: its plugins, scalars, context and who may call what. Type files add to it. */
export const builder = new SchemaBuilder<{
  PrismaTypes: PrismaTypes;
  Context: GraphQLContext;
  AuthScopes: {
    /** the request carries a store's admin token */
    admin: boolean;
    /** the request carries the admin token of this store (by id) */
    adminOf: string;
    /** placeOrder on this store (by slug): no token or a valid one, and a storefront token only of this store */
    checkoutOf: string;
  };
  AuthContexts: { admin: AdminContext };
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date | string };
    Decimal: { Input: string; Output: string | { toFixed(places: number): string } };
  };
}>({
  // scope-auth first, so that no other plugin's wrapper runs before the check
  plugins: [ScopeAuthPlugin, ErrorsPlugin, PrismaPlugin, RelayPlugin, DataloaderPlugin, ComplexityPlugin],
  defaultFieldNullability: false,
  scopeAuth: { authScopes, unauthorizedError: unauthorized },
  // each field's cost (./cost.ts); the limit is checked while validating, before anything runs (./limits.ts)
  complexity: { fieldComplexity: objectCost, disabled: true },
  prisma: {
    client: (context) => context.deps.db.prisma,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
    defaultConnectionSize: DEFAULT_PAGE_SIZE,
    maxConnectionSize: MAX_PAGE_SIZE,
  },
  relay: {
    // no Node interface nor node/nodes lookups: every record is reached through its store
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    firstArgOptions: { defaultValue: DEFAULT_PAGE_SIZE },
    edgesFieldOptions: { complexity: EDGES_COST },
  },
});

builder.addScalarType("DateTime", DateTimeResolver);
builder.addScalarType("Decimal", DecimalScalar);
builder.queryType();
builder.mutationType();
builder.subscriptionType();
