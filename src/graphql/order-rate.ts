import { GraphQLError } from "graphql";
import { isStoreSlug } from "../validation.ts";
import type { GraphQLContext } from "./context.ts";

/**
 * Counts a placeOrder call of the requesting client on `store` and refuses it when the client
 * is over the store's per-minute limit (src/orders/order-rate-limit.ts): a top-level error with
 * extensions.code RATE_LIMITED and HTTP 429 with Retry-After, before anything is read or changed.
 */
export async function checkOrderRate(context: GraphQLContext, store: string): Promise<void> {
  // A slug that cannot exist places no order (placeOrder answers NOT_FOUND at once) and must
  // not make counters of whatever length the caller chose.
  if (!isStoreSlug(store)) return;
  const decision = await context.deps.orderRateLimiter?.take(store, context.clientAddress);
  if (!decision || decision.allowed) return;
  throw new GraphQLError(`Too many orders from this client for this store; try again in ${decision.retryAfterSeconds} s`, {
    extensions: {
      code: "RATE_LIMITED",
      retryAfterSeconds: decision.retryAfterSeconds,
      http: { status: 429, headers: { "retry-after": String(decision.retryAfterSeconds) } },
    },
  });
}
