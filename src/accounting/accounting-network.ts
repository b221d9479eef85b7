import { lookup as systemLookup, type LookupAddress, type LookupAllOptions, type LookupOptions } from "node:dns";
import { isIP } from "node:net";
import ipaddr from "ipaddr.js";
import { Agent, fetch, type RequestInit, type Response } from "undici";

/**
 * Where the accounting connector may connect, and the one way it connects there. A store's admin
 * types the API address, so without this a connect would reach whatever the service can reach
 * (its database, Redis, a cloud's metadata service) and tell by its answers what listens where.
 *
 * Only the accounting provider's API host is allowed, plus the hosts the operator lists
 * (ACCOUNTING_ALLOWED_HOSTS: `host`, any port, or `host:port`). A host named by DNS must resolve
 * to public addresses only; that is checked as the connection is made, on the very addresses it
 * is made to, so a DNS answer that changes between a check and the connection (rebinding) cannot
 * turn it inward. A host listed by its IP address is reached there, private or not: the operator
 * named that address (an emulator, a proxy inside the network). Redirects are never followed.
 */

/** The provider's API (Alegra): its one host, on the https port. */
export const PROVIDER_HOSTS = ["api.alegra.com:443"];

/** dns.lookup's shape with `all: true`, which the guard always asks for (tests hand in their own). */
export type AddressLookup = (
  hostname: string,
  options: LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

type AllowedHost = { host: string; port: number | null };

/** A connection the guard stopped before it was made: the host resolved to an address that is not public. */
export class RefusedAddress extends Error {
  readonly code = "ERR_ACCOUNTING_ADDRESS_REFUSED";
  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(`${hostname} resolves to ${address}, which is not a public address`);
    this.name = "RefusedAddress";
  }
}

/**
 * Whether an address is on the public internet: not private, loopback, link-local, unique-local,
 * carrier-grade NAT, multicast, reserved or unspecified, nor an IPv6 form that carries an IPv4
 * address (mapped, NAT64, 6to4, Teredo), which could carry any of those.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === "unicast";
}

/** `host`, `host:port`, `[v6]` or `[v6]:port` (a bare IPv6 address too), as compared with a URL's host. */
export function parseAllowedHost(entry: string): AllowedHost {
  const trimmed = entry.trim().toLowerCase();
  if (isIP(trimmed) === 6) return { host: normalHost(trimmed), port: null };
  const match = /^(\[[0-9a-f:.]+\]|[^\s:[\]/?#@]+)(?::(\d{1,5}))?$/.exec(trimmed);
  if (!match || (match[2] !== undefined && Number(match[2]) > 65_535)) {
    throw new Error(`not a host or host:port: "${entry}"`);
  }
  return { host: normalHost(match[1]!), port: match[2] === undefined ? null : Number(match[2]) };
}

function normalHost(host: string): string {
  const bare = host.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  return isIP(bare) ? ipaddr.parse(bare).toNormalizedString() : bare;
}

export class AccountingNetwork {
  /** plain-http API addresses are accepted outside production only (emulators, tests) */
  readonly allowHttp: boolean;
  private readonly allowed: AllowedHost[];
  private readonly dispatcher: Agent;

  constructor(options: { allowedHosts?: string[]; allowHttp: boolean; lookup?: AddressLookup }) {
    this.allowHttp = options.allowHttp;
    this.allowed = [...PROVIDER_HOSTS, ...(options.allowedHosts ?? [])].map(parseAllowedHost);
    this.dispatcher = new Agent({ connect: { lookup: publicAddressesOnly(options.lookup ?? (systemLookup as AddressLookup)) } });
  }

  /**
   * Why an API base URL may not be used, or null when it may: its scheme, a user name or
   * password in it, a query or fragment (a `#` would turn every path appended to it into a
   * fragment), or a host and port the operator did not allow. Says nothing about the network.
   */
  refusal(baseUrl: string): string | null {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      return "must be a URL";
    }
    if (url.protocol !== "https:" && !(this.allowHttp && url.protocol === "http:")) {
      return this.allowHttp ? "must be an http(s) URL" : "must be an https URL";
    }
    if (url.username || url.password) return "must not contain a user name or password";
    if (/[?#]/.test(baseUrl)) return "must not contain a query (?) or a fragment (#)";
    const host = normalHost(url.hostname);
    const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
    const allowed = this.allowed.some((entry) => entry.host === host && (entry.port === null || entry.port === port));
    return allowed ? null : "must be the address of the accounting system's API (https://api.alegra.com/api/v1)";
  }

  /**
   * fetch, through the connections this network guards, never following a redirect (a 3xx is
   * answered as it is). Throws as fetch does; a host resolving to an address that is not public
   * fails with a RefusedAddress as its cause, before anything is sent.
   */
  fetch(url: string, init: Omit<RequestInit, "dispatcher" | "redirect">): Promise<Response> {
    return fetch(url, { ...init, redirect: "manual", dispatcher: this.dispatcher });
  }
}

/** A lookup for net/tls.connect that answers only when every address the name resolves to is public. */
export function publicAddressesOnly(lookup: AddressLookup) {
  return (
    hostname: string,
    options: LookupOptions,
    callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    lookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, []);
      const first = addresses[0];
      if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), []);
      const refused = addresses.find((candidate) => !isPublicAddress(candidate.address));
      if (refused) return callback(new RefusedAddress(hostname, refused.address), []);
      if (options.all) callback(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}
