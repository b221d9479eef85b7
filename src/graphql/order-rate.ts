import { isIP } from "node:net";
import { GraphQLError } from "graphql";
import type { RateDecision } from "../orders/order-rate-limit.ts";
import { isStoreSlug } from "../validation.ts";
import type { GraphQLContext } from "./context.ts";
import { badUserInput } from "./pages.ts";

/**
 * Counts a placeOrder (or reserveStock) call on `store` and refuses it when its client is over the store's
 * per-minute limit (src/orders/order-rate-limit.ts): a top-level error with extensions.code
 * RATE_LIMITED and HTTP 429 with Retry-After, before anything is read or changed.
 *
 * The client is the requesting address, except for a store's own server with a storefront access
 * token: its orders count per shopper (X-Buyer-IP, or its own address without one) under the same
 * limit, and together under the token's much larger budget. A malformed X-Buyer-IP is refused
 * (BAD_USER_INPUT) rather than counted as the server, which would hold every shopper to one limit.
 */
export async function checkOrderRate(context: GraphQLContext, store: string): Promise<void> {
  // A slug that cannot exist places no order (placeOrder answers NOT_FOUND at once) and must
  // not make counters of whatever length the caller chose.
  if (!isStoreSlug(store)) return;
  const limiter = context.deps.orderRateLimiter;
  if (!limiter) return;
  const token = context.storefrontToken;
  if (!token) return refuseOver(await limiter.take(store, context.clientAddress), "this client");

  const buyer = context.buyerAddress?.trim().toLowerCase();
  if (buyer && !isIP(buyer)) throw badUserInput("X-Buyer-IP must be the shopper's IPv4 or IPv6 address");
  const [perToken, perBuyer] = await Promise.all([
    limiter.take(store, `storefront-token:${token.id}`, context.storefrontTokenOrdersPerMinute),
    limiter.take(store, buyer || context.clientAddress),
  ]);
  refuseOver(perToken, "this storefront token");
  refuseOver(perBuyer, buyer ? "this shopper" : "this client");
}

/**
 * The client as the order rate limit counts it: the requesting address, or with a storefront
 * access token the shopper it names (X-Buyer-IP, checked by checkOrderRate), else the server's
 * own address. What a client's cap on cart holds counts by (src/orders/reservations.ts), rate
 * limit on or off.
 */
export function orderClientOf(context: GraphQLContext): string {
  const buyer = context.storefrontToken && context.buyerAddress?.trim().toLowerCase();
  return buyer && isIP(buyer) ? buyer : context.clientAddress;
}

function refuseOver(decision: RateDecision, who: string): void {
  if (decision.allowed) return;
  throw new GraphQLError(`Too many orders from ${who} for this store; try again in ${decision.retryAfterSeconds} s`, {
    extensions: {
      code: "RATE_LIMITED",
      retryAfterSeconds: decision.retryAfterSeconds,
      http: { status: 429, headers: { "retry-after": String(decision.retryAfterSeconds) } },
    },
  });
}
