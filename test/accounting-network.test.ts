import type { LookupAddress } from "node:dns";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AccountingNetwork, isPublicAddress, publicAddressesOnly, type AddressLookup } from "../src/accounting/accounting-network.ts";
import { AccountingEmulator } from "./support/accounting-emulator.ts";
import { gqlData, startTestServer, storesWithBalancedLedgers, type TestServer, type TestStore } from "./support/harness.ts";

/**
 * The accounting base URL is typed by a store's admin, so the service must not become a way to
 * reach, or map, what stands next to it (issue 19, item 8). Every server here listens on
 * loopback, which the harness allows by its address (as ACCOUNTING_ALLOWED_HOSTS=127.0.0.1 would);
 * nothing connects anywhere else.
 */

let server: TestServer;
const store = storesWithBalancedLedgers(() => server);
const listeners: { close(): unknown }[] = [];

beforeAll(async () => {
  server = await startTestServer({ accounting: { http: { timeoutMs: 300, maxAttempts: 2, retryDelayMs: 5 } } });
});
afterAll(async () => server.close());
afterEach(async () => {
  for (const listener of listeners.splice(0)) await listener.close();
});

const CONNECT = `mutation($input: ConnectAccountingInput!) { connectAccounting(input: $input) {
  __typename ... on InventorySettings { accountingConnected } ... on OperationError { code message field } } }`;

async function connect(target: TestServer, s: TestStore, baseUrl: string) {
  const data = await gqlData(target.url, CONNECT, { input: { baseUrl, email: "a@b.co", token: "t" } }, s.token);
  return data.connectAccounting;
}

/** A TCP listener on loopback that counts the connections made to it and does `onConnection` with each. */
async function tcpListener(onConnection: (socket: Socket) => void = () => {}) {
  const sockets: Socket[] = [];
  const listener: TcpServer = createTcpServer((socket) => {
    sockets.push(socket);
    socket.on("error", () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const entry = {
    port: (listener.address() as AddressInfo).port,
    get connections() {
      return sockets.length;
    },
    close: () => {
      sockets.forEach((socket) => socket.destroy());
      return new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
  listeners.push(entry);
  return entry;
}

/** An HTTP server on loopback answering every request with `answer`, keeping the requests it got. */
async function httpListener(answer: (res: import("node:http").ServerResponse) => void) {
  const requests: string[] = [];
  const listener: HttpServer = createHttpServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    answer(res);
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const entry = {
    port: (listener.address() as AddressInfo).port,
    requests,
    close: () => {
      listener.closeAllConnections();
      return new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
  listeners.push(entry);
  return entry;
}

describe("which addresses count as public", () => {
  it("private, loopback, link-local, unique-local, CGNAT, reserved and IPv4-carrying IPv6 forms are not", () => {
    const inside = [
      "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "127.255.0.9", "169.254.169.254", "100.64.0.1",
      "0.0.0.0", "192.0.2.10", "198.18.0.1", "224.0.0.1", "255.255.255.255",
      "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
      "64:ff9b::a00:1", "2002:a00:1::", "2001::1", "ff02::1", "not an address",
    ];
    for (const address of inside) expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: false });
    for (const address of ["8.8.8.8", "151.101.1.69", "2606:4700::1111", "2a00:1450:4001::200e"]) {
      expect({ address, public: isPublicAddress(address) }).toEqual({ address, public: true });
    }
  });

  it("a name is resolved once and answered only when every address it has is public", async () => {
    const answering = (addresses: LookupAddress[]): AddressLookup => (_host, _options, callback) => callback(null, addresses);
    const resolve = (lookup: AddressLookup, all: boolean) =>
      new Promise<{ error: Error | null; address: unknown }>((done) =>
        publicAddressesOnly(lookup)("accounting.example", { all }, (error, address) => done({ error, address })),
      );
    const outside = [{ address: "8.8.8.8", family: 4 }];
    expect(await resolve(answering(outside), false)).toEqual({ error: null, address: "8.8.8.8" });
    expect(await resolve(answering(outside), true)).toEqual({ error: null, address: outside });
    // one inside address among public ones is enough to refuse: the connection could pick it
    for (const addresses of [[{ address: "10.0.0.7", family: 4 }], [...outside, { address: "::ffff:169.254.169.254", family: 6 }]]) {
      const { error } = await resolve(answering(addresses), true);
      expect(error).toMatchObject({ name: "RefusedAddress", code: "ERR_ACCOUNTING_ADDRESS_REFUSED" });
    }
  });
});

describe("which base URLs a store may connect", () => {
  const network = new AccountingNetwork({ allowHttp: false, allowedHosts: ["accounting.internal:8443", "10.1.2.3"] });

  it("the provider's API, and the hosts the operator allows, on their ports", () => {
    for (const url of ["https://api.alegra.com/api/v1", "https://API.alegra.com:443/api/v1/", "https://accounting.internal:8443/v1", "https://10.1.2.3:9999/x"]) {
      expect({ url, refusal: network.refusal(url) }).toEqual({ url, refusal: null });
    }
  });

  it("nothing else: other hosts and ports, plain http in production, user names, queries and fragments", () => {
    const refused = {
      "https://127.0.0.1:5432": /address of the accounting system's API/,
      "https://api.alegra.com:8443/api/v1": /address of the accounting system's API/,
      "https://accounting.internal/v1": /address of the accounting system's API/,
      "https://api.alegra.com.evil.example/api/v1": /address of the accounting system's API/,
      "https://169.254.169.254/latest/meta-data": /address of the accounting system's API/,
      "http://api.alegra.com/api/v1": /https URL/,
      "https://user:pass@api.alegra.com/api/v1": /user name or password/,
      "https://api.alegra.com/api/v1#": /fragment/,
      "https://api.alegra.com/api/v1?x=1": /query/,
      "gopher://api.alegra.com/": /https URL/,
      "not a url": /must be a URL/,
    };
    for (const [url, reason] of Object.entries(refused)) expect(network.refusal(url), url).toMatch(reason);
  });
});

describe("connectAccounting", () => {
  it("refuses a host that is not allowed, or a fragment, as INVALID_INPUT on baseUrl, without connecting", async () => {
    const listener = await tcpListener();
    const s = await store();
    // localhost is loopback too, but only 127.0.0.1 is allowed, by its address
    for (const baseUrl of [`http://localhost:${listener.port}/api/v1`, `http://127.0.0.1:${listener.port}/api/v1#`, `http://127.0.0.1:${listener.port}/?a=`]) {
      expect(await connect(server, s, baseUrl)).toMatchObject({ __typename: "OperationError", code: "INVALID_INPUT", field: "baseUrl" });
    }
    expect(listener.connections).toBe(0);
  });

  it("an allowed host whose name resolves to an inside address is refused before any connection", async () => {
    const listener = await tcpListener();
    // the operator allowed accounting.test by name; its DNS answers loopback (rebinding, or a poisoned record)
    const lookups: string[] = [];
    const lookup: AddressLookup = (hostname, _options, callback) => {
      lookups.push(hostname);
      callback(null, [{ address: "127.0.0.1", family: 4 }]);
    };
    const guarded = await startTestServer({
      accounting: { network: new AccountingNetwork({ allowHttp: true, allowedHosts: ["accounting.test"], lookup }) },
    });
    try {
      const s = await store();
      const answer = await connect(guarded, s, `http://accounting.test:${listener.port}/api/v1`);
      expect(answer).toMatchObject({ __typename: "OperationError", code: "ACCOUNTING_UNAVAILABLE", message: "could not reach the accounting system" });
      expect(lookups).toContain("accounting.test");
      expect(listener.connections).toBe(0);
    } finally {
      await guarded.close();
    }
  });

  it("every failure to get an answer reads the same: refused, reset, silent port", async () => {
    const closed = await tcpListener();
    const closedPort = closed.port;
    await closed.close();
    const reset = await tcpListener((socket) => socket.resetAndDestroy());
    const silent = await tcpListener();
    const s = await store();
    const messages = new Set<string>();
    for (const port of [closedPort, reset.port, silent.port]) {
      const answer = await connect(server, s, `http://127.0.0.1:${port}/api/v1`);
      expect(answer).toMatchObject({ __typename: "OperationError", code: "ACCOUNTING_UNAVAILABLE" });
      messages.add(answer.message);
    }
    expect([...messages]).toEqual(["could not reach the accounting system (gave up after 2 attempts)"]);
  });

  it("a redirect is not followed: it is a failure, and its target gets no request", async () => {
    const target = await httpListener((res) => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    const redirecting = await httpListener((res) => res.writeHead(302, { location: `http://127.0.0.1:${target.port}/api/v1/company` }).end());
    const answer = await connect(server, await store(), `http://127.0.0.1:${redirecting.port}/api/v1`);
    expect(answer).toMatchObject({ __typename: "OperationError", code: "ACCOUNTING_UNAVAILABLE" });
    expect(answer.message).toMatch(/HTTP 302.*not followed/);
    expect(answer.message).not.toContain(String(target.port));
    expect(redirecting.requests).toEqual(["GET /api/v1/company"]);
    expect(target.requests).toEqual([]);
  });

  it("what the remote answers is quoted filtered: no control or bidirectional characters, at most 200 characters", async () => {
    const message = `Número\u0000 de\u202e cliente\u001b[31m inválido\r\nX-Injected: 1 <b>` + "x".repeat(1_000);
    const remote = await httpListener((res) => res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ message })));
    const answer = await connect(server, await store(), `http://127.0.0.1:${remote.port}/api/v1`);
    expect(answer.message).toMatch(/^the accounting system answered HTTP 400 to GET \/company: Número de cliente \[31m inválido X-Injected: 1 b x+$/);
    expect(answer.message).not.toMatch(/[\u0000-\u001f\u202e<>]/);
    expect(answer.message.split(": ").slice(1).join(": ").length).toBeLessThanOrEqual(200);
  });
});

describe("a connection stored before its host was disallowed", () => {
  it("is refused at every call, without a request", async () => {
    const emulator = await AccountingEmulator.start();
    listeners.push(emulator);
    const s = await store();
    await gqlData(server.url, CONNECT, { input: { baseUrl: emulator.baseUrl, email: emulator.email, token: emulator.token } }, s.token);
    emulator.requests.splice(0);
    // the same store and sealing key, but the operator no longer allows the emulator's address
    const stricter = await startTestServer({
      accounting: { secretKey: server.deps.accounting.secretKey, network: new AccountingNetwork({ allowHttp: true, allowedHosts: [] }) },
    });
    try {
      const data = await gqlData(
        stricter.url,
        `mutation { updateInventorySettings(input: { accountingSync: true }) { __typename ... on OperationError { code message } } }`,
        {},
        s.token,
      );
      expect(data.updateInventorySettings).toMatchObject({ code: "ACCOUNTING_UNAVAILABLE", message: expect.stringContaining("could not reach the accounting system") });
      expect(emulator.requests).toEqual([]);
    } finally {
      await stricter.close();
    }
  });
});
