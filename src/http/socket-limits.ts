import { GraphQLError } from "graphql";

/**
 * How many WebSockets each client holds open on this process, so that one client cannot hold
 * the memory of thousands. A socket counts on its client's address (clientAddressOf: trusted
 * proxies considered) from its upgrade on. One whose connection_init carries a valid storefront
 * token counts instead on the shopper it names (X-Buyer-IP) under that token (the server's own
 * address without one), and on the token as a whole: a storefront server that relays its
 * shoppers' live updates is held per shopper, as its orders are (src/graphql/order-rate.ts).
 */

/** A count a socket takes part in, and how many sockets it may hold. */
export type SocketSlot = { key: string; cap: number; refusal: string };

export class SocketCounts {
  private readonly counts = new Map<string, number>();
  private readonly held = new Map<object, string[]>();

  /** The first of `slots` that has no room for `socket` (what it holds already aside), or null. */
  full(slots: SocketSlot[], socket?: object): SocketSlot | null {
    const holding = (socket && this.held.get(socket)) ?? [];
    return slots.find((slot) => (this.counts.get(slot.key) ?? 0) - (holding.includes(slot.key) ? 1 : 0) >= slot.cap) ?? null;
  }

  /**
   * Makes `socket` count on `slots` instead of what it counted on, when every one has room;
   * else changes nothing and answers the full one.
   */
  take(socket: object, slots: SocketSlot[]): SocketSlot | null {
    const full = this.full(slots, socket);
    if (full) return full;
    this.release(socket);
    for (const { key } of slots) this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.held.set(socket, slots.map((slot) => slot.key));
    return null;
  }

  /** The socket closed: its counts go down. */
  release(socket: object): void {
    for (const key of this.held.get(socket) ?? []) {
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left > 0) this.counts.set(key, left);
      else this.counts.delete(key);
    }
    this.held.delete(socket);
  }
}

/** graphql-ws close code for a socket over its client's limit (the 429 of WebSockets; graphql-ws clients do not retry it). */
export const TOO_MANY_SOCKETS_CLOSE_CODE = 4429;

/** The caps of src/config.ts' WebSocketLimits as slots: per client address, per token shopper, per token. */
export function socketSlots(limits: { maxSocketsPerClient: number; maxSocketsPerStorefrontToken: number }) {
  return {
    client: (address: string): SocketSlot => ({
      key: `client ${address}`,
      cap: limits.maxSocketsPerClient,
      refusal: `too many connections from this address (at most ${limits.maxSocketsPerClient})`,
    }),
    storefront: (tokenId: string, shopper: string): SocketSlot[] => [
      {
        key: `shopper ${tokenId} ${shopper}`,
        cap: limits.maxSocketsPerClient,
        refusal: `too many connections for this shopper (at most ${limits.maxSocketsPerClient})`,
      },
      {
        key: `token ${tokenId}`,
        cap: limits.maxSocketsPerStorefrontToken,
        refusal: `too many connections with this storefront token (at most ${limits.maxSocketsPerStorefrontToken})`,
      },
    ],
  };
}

/** The `error` answer to a subscribe over a socket that holds as many operations as it may. */
export const tooManySubscriptions = (max: number) =>
  new GraphQLError(`a socket may hold at most ${max} subscriptions at once: complete one first, or open another socket`, {
    extensions: { code: "TOO_MANY_SUBSCRIPTIONS", limit: max },
  });
