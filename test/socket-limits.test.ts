import { connect as tcpConnect } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { defaultConfig } from "../src/config.ts";
import { gqlData, newItem, newStore, startTestServer, type TestServer, type TestStore } from "./support/harness.ts";
import { setQuantity } from "./support/live.ts";
import { eventually } from "./support/wait.ts";

/**
 * What one client may hold open (issue 19, items 9-11): one bad subscribe ends only itself,
 * subscriptions per socket and sockets per client are capped (per shopper and per token for a
 * storefront token), and a request that trickles in is cut at the HTTP request timeout.
 */

const LIMITS = { maxSubscriptionsPerSocket: 3, maxSocketsPerClient: 3, maxSocketsPerStorefrontToken: 4 };

let server: TestServer;
let store: TestStore;
let item: { id: string };
const opened: RawSocket[] = [];

beforeAll(async () => {
  server = await startTestServer({
    config: { webSocketLimits: LIMITS, trustProxy: 1, limits: { ...defaultConfig().limits, maxTokens: 100 } },
  });
  store = await newStore(server.db);
  item = await newItem(server, store, { quantity: 10 });
});
afterAll(async () => server.close());
// each test opens its sockets from addresses of its own, so what one leaves counted cannot reach the next
afterEach(() => opened.splice(0).forEach((socket) => socket.close()));

const STOCK_UPDATES = `subscription($store: String!) { stockUpdates(store: $store) { itemId version } }`;

/** A graphql-ws socket spoken by hand, recording every message per operation id and how it closed. */
class RawSocket {
  readonly messages = new Map<string, { type: string; payload?: any }[]>();
  closed: { code: number; reason: string } | null = null;
  acknowledged = false;
  private constructor(private readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const message = JSON.parse(String(data));
      if (message.type === "connection_ack") this.acknowledged = true;
      if (message.id) this.of(message.id).push(message);
    });
    socket.on("close", (code, reason) => (this.closed = { code, reason: String(reason) }));
  }

  /** Opens a socket from `client` (X-Forwarded-For, the server trusts one proxy) and sends connection_init with `params`. */
  static async open(client: string, params: Record<string, unknown> = {}): Promise<RawSocket> {
    const socket = new WebSocket(`${server.url.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws", { headers: { "x-forwarded-for": client } });
    await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
    const raw = new RawSocket(socket);
    opened.push(raw);
    socket.send(JSON.stringify({ type: "connection_init", payload: params }));
    await eventually(() => raw.acknowledged || raw.closed !== null, "connection_ack or close");
    return raw;
  }

  of(id: string) {
    if (!this.messages.has(id)) this.messages.set(id, []);
    return this.messages.get(id)!;
  }

  subscribe(id: string, query = STOCK_UPDATES, variables: Record<string, unknown> = { store: store.slug }) {
    this.socket.send(JSON.stringify({ id, type: "subscribe", payload: { query, variables } }));
  }

  complete(id: string) {
    this.socket.send(JSON.stringify({ id, type: "complete" }));
  }

  async errorOf(id: string) {
    await eventually(() => this.of(id).some((m) => m.type === "error"), `an error for ${id}`);
    return this.of(id).find((m) => m.type === "error")!.payload;
  }

  updatesOf(id: string) {
    return this.of(id).filter((m) => m.type === "next").length;
  }

  close() {
    this.socket.terminate();
  }
}

/** An upgrade refused before it became a socket: its HTTP status and body. */
async function refusedUpgrade(client: string) {
  const socket = new WebSocket(`${server.url.replace(/^http/, "ws")}/graphql`, "graphql-transport-ws", { headers: { "x-forwarded-for": client } });
  return new Promise<{ status: number; body: string } | "opened">((resolve, reject) => {
    socket.once("open", () => {
      socket.terminate();
      resolve("opened");
    });
    socket.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk)).on("end", () => resolve({ status: res.statusCode!, body }));
    });
    socket.once("error", (error) => (error.message.includes("Unexpected server response") ? undefined : reject(error)));
  });
}

/** Changes the item until every one of `ids` on its socket has heard of it since now. */
async function allLive(subscriptions: [RawSocket, string][]) {
  const before = subscriptions.map(([socket, id]) => socket.updatesOf(id));
  let quantity = 20;
  await eventually(async () => {
    await setQuantity(server, store, item.id, quantity++);
    return subscriptions.every(([socket, id], n) => socket.updatesOf(id) > before[n]!);
  }, "every subscription to hear of a change");
}

describe("a bad subscribe over WebSocket", () => {
  it("a syntax error, or a query over the token limit, is an error for its id only: the socket and its other subscriptions go on", async () => {
    const socket = await RawSocket.open("198.51.100.1");
    socket.subscribe("live");
    await allLive([[socket, "live"]]);

    socket.subscribe("broken", "subscription { stockUpdates(");
    expect(await socket.errorOf("broken")).toEqual([expect.objectContaining({ message: expect.stringMatching(/^Syntax Error/), extensions: { code: "GRAPHQL_PARSE_FAILED" } })]);
    socket.subscribe("long", `subscription { ${"__typename ".repeat(150)}}`);
    expect(await socket.errorOf("long")).toEqual([expect.objectContaining({ message: expect.stringMatching(/Token limit/), extensions: { code: "GRAPHQL_PARSE_FAILED" } })]);

    expect(socket.closed).toBeNull();
    await allLive([[socket, "live"]]);
    expect(socket.of("live").map((m) => m.type)).not.toContain("error");
  });
});

describe("subscriptions per socket (WS_MAX_SUBSCRIPTIONS_PER_SOCKET)", () => {
  it("up to the cap are served; one more is an error for its id; completing one frees its place", async () => {
    const socket = await RawSocket.open("198.51.100.2");
    for (const id of ["1", "2", "3"]) socket.subscribe(id);
    await allLive([[socket, "1"], [socket, "2"], [socket, "3"]]);

    socket.subscribe("4");
    expect(await socket.errorOf("4")).toEqual([
      expect.objectContaining({ message: expect.stringMatching(/at most 3 subscriptions/), extensions: { code: "TOO_MANY_SUBSCRIPTIONS", limit: 3 } }),
    ]);
    expect(socket.closed).toBeNull();
    await allLive([[socket, "1"], [socket, "2"], [socket, "3"]]);

    socket.complete("1");
    socket.subscribe("5");
    await allLive([[socket, "2"], [socket, "3"], [socket, "5"]]);
    expect(socket.of("5").map((m) => m.type)).not.toContain("error");
  });
});

describe("sockets per client address (WS_MAX_SOCKETS_PER_CLIENT)", () => {
  it("up to the cap open; one more is refused with 429; other addresses are not affected; closing one frees a place", async () => {
    const three = [await RawSocket.open("198.51.100.3"), await RawSocket.open("198.51.100.3"), await RawSocket.open("198.51.100.3")];
    expect(three.map((s) => s.acknowledged)).toEqual([true, true, true]);
    expect(await refusedUpgrade("198.51.100.3")).toEqual({ status: 429, body: "too many connections from this address (at most 3)" });
    expect((await RawSocket.open("198.51.100.4")).acknowledged).toBe(true);

    // the ones open still work
    three[0]!.subscribe("a");
    three[2]!.subscribe("a");
    await allLive([[three[0]!, "a"], [three[2]!, "a"]]);

    three[1]!.close();
    await eventually(async () => (await refusedUpgrade("198.51.100.3")) === "opened", "a place to free up");
  });

  it("a storefront token's sockets count per shopper (X-Buyer-IP) and per token, not on the storefront server's address", async () => {
    const created = await gqlData(
      server.url,
      `mutation { createStorefrontToken(name: "next.js") { ... on CreatedStorefrontToken { token } } }`,
      {},
      store.token,
    );
    const authorization = `Bearer ${created.createStorefrontToken.token}`;
    const storefront = "198.51.100.20";
    const forShopper = (buyer: string) => RawSocket.open(storefront, { authorization, "x-buyer-ip": buyer });

    const first = [await forShopper("203.0.113.1"), await forShopper("203.0.113.1"), await forShopper("203.0.113.1")];
    expect(first.map((s) => s.acknowledged)).toEqual([true, true, true]);
    const fourth = await forShopper("203.0.113.1");
    expect(fourth).toMatchObject({ acknowledged: false, closed: { code: 4429, reason: "too many connections for this shopper (at most 3)" } });

    expect((await forShopper("2001:db8::1")).acknowledged).toBe(true);
    // four sockets with the token now: its own cap
    expect(await forShopper("203.0.113.2")).toMatchObject({ acknowledged: false, closed: { code: 4429, reason: "too many connections with this storefront token (at most 4)" } });

    expect(await forShopper("not-an-address")).toMatchObject({ acknowledged: false, closed: { code: 4400 } });

    first[0]!.subscribe("s");
    await allLive([[first[0]!, "s"]]);
    first[1]!.close();
    await eventually(async () => (await forShopper("203.0.113.2")).acknowledged, "the token's freed place");

    // the storefront server's own address holds none of them (once the refused ones are closed)
    const plain: RawSocket[] = [];
    for (let n = 0; n < 3; n++) {
      await eventually(async () => (await refusedUpgrade(storefront)) === "opened", "room on the storefront server's address");
      plain.push(await RawSocket.open(storefront));
    }
    expect(plain.map((s) => s.acknowledged)).toEqual([true, true, true]);
    expect(await refusedUpgrade(storefront)).toMatchObject({ status: 429 });
  });
});

describe("HTTP timeouts (HTTP_HEADERS_TIMEOUT_MS, HTTP_REQUEST_TIMEOUT_MS)", () => {
  it("a body that trickles in is cut at the request timeout; one sent in time is served", async () => {
    const strict = await startTestServer({ config: { http: { headersTimeoutMs: 300, requestTimeoutMs: 600, keepAliveTimeoutMs: 5_000 } } });
    try {
      const body = JSON.stringify({ query: "{ __typename }" });
      const socket = tcpConnect(strict.port, "127.0.0.1");
      let answer = "";
      socket.on("data", (chunk) => (answer += chunk));
      const ended = new Promise<number>((resolve) => socket.on("close", () => resolve(Date.now())));
      const started = Date.now();
      socket.write(`POST /graphql HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
      // one byte every 100 ms, for longer than the request may take
      let sent = 0;
      const drip = setInterval(() => {
        if (!socket.writable || sent >= body.length - 1) return;
        socket.write(body[sent++]!);
      }, 100);
      const closedAt = await Promise.race([ended, new Promise<number>((resolve) => setTimeout(() => resolve(-1), 5_000))]);
      clearInterval(drip);
      socket.destroy();
      expect(closedAt).not.toBe(-1);
      expect(closedAt - started).toBeLessThan(2_500);
      expect(answer).toMatch(/^HTTP\/1\.1 408/);
      expect(sent).toBeLessThan(body.length - 1);

      const served = await fetch(`${strict.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(await served.json()).toEqual({ data: { __typename: "Query" } });
    } finally {
      await strict.close();
    }
  });

  it("the service's defaults: 10 s for the headers, 30 s for the whole request, keep-alive above a load balancer's 60 s", () => {
    expect(server.app.server).toMatchObject({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 65_000 });
  });
});
