import { GraphQLError } from "graphql";
import type { Deps } from "../deps.ts";
import { storeForAdminToken, storeIdForSlug } from "../stores/stores.ts";
import { storefrontTokenFor } from "../stores/storefront-tokens.ts";

/** Per request: the services, and who is asking (a store's admin, a store's storefront server, or the public). */
export type GraphQLContext = {
  deps: Deps;
  /** The store whose admin token came with the request. */
  adminStoreId: string | null;
  /** The storefront access token that came with the request: a store's own server ordering for its shoppers. */
  storefrontToken: { id: string; storeId: string } | null;
  /** What the Authorization header held: nothing, a valid token, or one that is not (wrong, revoked, malformed). */
  token: "none" | "valid" | "invalid";
  /** Who is asking, for per-client limits: the peer address, or the client's behind trusted proxies. */
  clientAddress: string;
  /** The shopper a storefront server orders for (X-Buyer-IP) as sent; kept only with a valid storefront token. */
  buyerAddress: string | null;
  /** placeOrder calls per store and minute of one storefront token. */
  storefrontTokenOrdersPerMinute: number;
};

/** The context of admin fields (scope `admin`): the token's store is known. */
export type AdminContext = GraphQLContext & { adminStoreId: string };

export type RequestCredentials = {
  authorization?: string | null;
  /** the X-Buyer-IP header */
  buyerAddress?: string | null;
  clientAddress?: string;
};

/** Reads the request's credentials once, before anything runs: `sk_` admin tokens, `st_` storefront tokens. */
export async function createContext(
  deps: Deps,
  request: RequestCredentials,
  limits: { storefrontTokenOrdersPerMinute: number },
): Promise<GraphQLContext> {
  const context: GraphQLContext = {
    deps,
    adminStoreId: null,
    storefrontToken: null,
    token: request.authorization ? "invalid" : "none",
    clientAddress: request.clientAddress ?? "unknown",
    buyerAddress: null,
    storefrontTokenOrdersPerMinute: limits.storefrontTokenOrdersPerMinute,
  };
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.authorization ?? "")?.[1];
  if (presented?.startsWith("st_")) {
    context.storefrontToken = await storefrontTokenFor(deps.db.prisma, presented);
    if (context.storefrontToken) context.buyerAddress = request.buyerAddress ?? null;
  } else if (presented) {
    context.adminStoreId = await storeForAdminToken(deps.db.prisma, presented);
  }
  if (context.adminStoreId || context.storefrontToken) context.token = "valid";
  return context;
}

/** The scopes of a request (the builder's AuthScopes): see ./builder.ts. */
export function authScopes(context: GraphQLContext) {
  return {
    admin: context.adminStoreId !== null,
    adminOf: (storeId: string) => context.adminStoreId === storeId,
    // placeOrder is public; a token sent with it must be valid, a storefront token one of the store ordered from
    checkoutOf: async (slug: string) =>
      context.token !== "invalid" &&
      (!context.storefrontToken ||
        context.storefrontToken.storeId === (await storeIdForSlug(context.deps.db.prisma, slug.trim().toLowerCase()))),
  };
}

const unauthenticated = (message: string) =>
  new GraphQLError(message, { extensions: { code: "UNAUTHENTICATED", http: { status: 200 } } });
const forbidden = (message: string) => new GraphQLError(message, { extensions: { code: "FORBIDDEN" } });

/**
 * Why a field was refused: without a token, or with one that is not valid, UNAUTHENTICATED; with
 * a valid token that does not reach it (another store's, or a storefront token), FORBIDDEN.
 */
export function unauthorized(_parent: unknown, context: GraphQLContext): GraphQLError {
  if (context.token === "none") return unauthenticated("This field needs the store's admin token (Authorization: Bearer <adminToken>)");
  if (context.token === "invalid") return unauthenticated("The token is not valid");
  if (context.storefrontToken) return forbidden("A storefront access token grants no admin access");
  return forbidden("The admin token belongs to another store");
}

/** placeOrder's refusal: a token that is not valid, or a storefront token of another store. */
export function checkoutRefused(_parent: unknown, _args: unknown, context: GraphQLContext): GraphQLError {
  return context.token === "invalid"
    ? unauthenticated("The token is not valid")
    : forbidden("The storefront access token belongs to another store");
}
