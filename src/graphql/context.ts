import { GraphQLError } from "graphql";
import type { Deps } from "../deps.ts";
import { storeForAdminToken } from "../stores/stores.ts";
import { isRecordId } from "../validation.ts";

/** Per request: the services, and who is asking (a store's admin, or the public). */
export type GraphQLContext = {
  deps: Deps;
  /** The store whose admin token came with the request; resolved once, on first use. */
  adminStore(): Promise<string | null>;
  /** Whether an Authorization header was sent at all (to tell a missing token from a bad one). */
  tokenPresented: boolean;
  /** Who is asking, for per-client limits: the peer address, or the client's behind trusted proxies. */
  clientAddress: string;
};

export function createContext(
  deps: Deps,
  authorization: string | null | undefined,
  clientAddress = "unknown",
): GraphQLContext {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1] ?? null;
  let resolved: Promise<string | null> | undefined;
  return {
    deps,
    tokenPresented: Boolean(authorization),
    clientAddress,
    adminStore: () => (resolved ??= token ? storeForAdminToken(deps.db.pool, token) : Promise.resolve(null)),
  };
}

/** The store an admin field works on: the token's. Without a valid token: UNAUTHENTICATED. */
export async function adminStoreId(context: GraphQLContext): Promise<string> {
  const storeId = await context.adminStore();
  if (storeId) return storeId;
  throw new GraphQLError(
    context.tokenPresented ? "The admin token is not valid" : "This field needs the store's admin token (Authorization: Bearer <adminToken>)",
    { extensions: { code: "UNAUTHENTICATED", http: { status: 200 } } },
  );
}

/** For admin fields of a given store: its own token only, another store's token is FORBIDDEN. */
export async function requireAdminOf(context: GraphQLContext, storeId: string): Promise<void> {
  const own = await adminStoreId(context);
  if (own !== storeId) {
    throw new GraphQLError("The admin token belongs to another store", { extensions: { code: "FORBIDDEN" } });
  }
}

/** The key of a record of the token's store by its id; null for an id that cannot exist. */
export async function adminRecordKey(context: GraphQLContext, id: string | number) {
  const storeId = await adminStoreId(context);
  const recordId = String(id);
  return isRecordId(recordId) ? { storeId, id: recordId } : null;
}

export function badUserInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}
