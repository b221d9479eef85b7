import type { IncomingMessage } from "node:http";

/**
 * The address a request comes from, for limits per client. Behind `trustedProxies` reverse
 * proxies that each append the address they saw to X-Forwarded-For, the client is that many
 * entries from the right; entries further left are whatever the client chose to send, so they
 * are never believed. With no trusted proxy the header is ignored and the peer address counts.
 */
export function clientAddressOf(req: IncomingMessage | undefined, trustedProxies: number): string {
  const peer = req?.socket?.remoteAddress ?? "unknown";
  if (trustedProxies <= 0 || !req) return peer;
  const header = req.headers["x-forwarded-for"];
  const forwarded = (Array.isArray(header) ? header.join(",") : (header ?? ""))
    .split(",")
    .map((entry) => entry.trim())
    .filter(Boolean);
  if (forwarded.length === 0) return peer;
  return forwarded[Math.max(0, forwarded.length - trustedProxies)]!;
}
