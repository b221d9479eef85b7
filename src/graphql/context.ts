import { GraphQLError } from "graphql";
import type { Deps } from "../deps.ts";
import { storeForAdminToken } from "../stores/stores.ts";

/** Per request: the services, and who is asking (a store's admin, or the public). */
export type GraphQLContext = {
  deps: Deps;
  /** The store whose admin token came with the request. */
  adminStoreId: string | null;
  /** What the Authorization header held: nothing, a valid token, or one that is not (wrong, malformed). */
  token: "none" | "valid" | "invalid";
  /** Who is asking, for per-client limits: the peer address, or the client's behind trusted proxies. */
  clientAddress: string;
};

/** The context of admin fields (scope `admin`): the token's store is known. */
export type AdminContext = GraphQLContext & { adminStoreId: string };

/** Reads the request's credentials once, before anything runs. */
export async function createContext(
  deps: Deps,
  authorization: string | null | undefined,
  clientAddress = "unknown",
): Promise<GraphQLContext> {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1] ?? null;
  if (!authorization) return { deps, adminStoreId: null, token: "none", clientAddress };
  const adminStoreId = presented ? await storeForAdminToken(deps.db.prisma, presented) : null;
  return { deps, adminStoreId, token: adminStoreId ? "valid" : "invalid", clientAddress };
}

/** The scopes of a request (the builder's AuthScopes): see ./builder.ts. */
export function authScopes(context: GraphQLContext) {
  return {
    admin: context.adminStoreId !== null,
    adminOf: (storeId: string) => context.adminStoreId === storeId,
  };
}

/**
 * Why a field was refused: without a token, or with one that is not valid, UNAUTHENTICATED; with
 * a valid token that does not reach this (another store's, or not an admin one), FORBIDDEN.
 */
export function unauthorized(_parent: unknown, context: GraphQLContext): GraphQLError {
  if (context.token === "none") {
    return new GraphQLError("This field needs the store's admin token (Authorization: Bearer <adminToken>)", {
      extensions: { code: "UNAUTHENTICATED", http: { status: 200 } },
    });
  }
  if (context.token === "invalid") {
    return new GraphQLError("The token is not valid", { extensions: { code: "UNAUTHENTICATED", http: { status: 200 } } });
  }
  return new GraphQLError("The admin token belongs to another store", { extensions: { code: "FORBIDDEN" } });
}
