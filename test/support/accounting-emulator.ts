import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An emulator of the accounting API subset (../shared/accounting-api.md), a real HTTP server for
 * the tests. State lives in memory: warehouses, items with per-warehouse counts, invoices (each
 * line lowers its item's count in the warehouse it names, which must exist and be active) and
 * webhook subscriptions, which it notifies like the real one (an empty POST when one is created,
 * then a POST per event). It checks HTTP Basic credentials, pages lists (`limit` at most 30) and
 * can be told to fail, to be slow, or to hang.
 */

export type EmulatedWarehouse = { id: string; name: string; isDefault?: boolean; status: string };

export type EmulatedItem = {
  id: string;
  name: string;
  reference: string | null;
  status: "active";
  type: "product" | "service";
  price: { idPriceList: number; price: number }[];
  /** absent for an item that does not track inventory (services) */
  counts?: Map<string, number>;
};

export type Notification = { subject: string; message: Record<string, unknown> };

type Fault = { match: RegExp; remaining: number; skip: number } & ({ status: number } | { delayMs: number } | { hang: true });

export class AccountingEmulator {
  readonly email = "contabilidad@ejemplar.co";
  readonly token = `token-${randomBytes(8).toString("hex")}`;
  readonly warehouses: EmulatedWarehouse[] = [
    { id: "1", name: "Principal", isDefault: true, status: "active" },
    { id: "2", name: "Bodega norte", isDefault: false, status: "active" },
  ];
  readonly items = new Map<string, EmulatedItem>();
  readonly invoices: { id: string; number: string; request: any }[] = [];
  readonly subscriptions: { id: string; url: string; event: string }[] = [];
  /** every request received, as "METHOD /path?query" (relative to the API base) */
  readonly requests: string[] = [];
  /** every notification sent, with the status it was answered */
  readonly deliveries: { url: string; body: string; status: number }[] = [];
  /** send notifications on item edits and invoices, as the real system does */
  autoNotify = true;
  /** leave `isDefault` out of warehouses, and `inventory.warehouses` out of items (the doc's "assumed" fields) */
  omitAssumedFields = false;

  private faults: Fault[] = [];
  private readonly inFlight = new Set<Promise<unknown>>();
  private nextId = 1;

  private constructor(private readonly server: Server) {}

  static async start(): Promise<AccountingEmulator> {
    const server = createServer();
    const emulator = new AccountingEmulator(server);
    server.on("request", (req, res) => void emulator.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return emulator;
  }

  get baseUrl() {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/v1`;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---------- state ----------

  /** Adds a product with its count per warehouse id (or a service when `counts` is null). */
  addItem(input: { reference?: string | null; name?: string; counts?: Record<string, number> | null; price?: number }) {
    const id = String(this.nextId++);
    const item: EmulatedItem = {
      id,
      name: input.name ?? `Producto ${id}`,
      reference: input.reference ?? null,
      status: "active",
      type: input.counts === null ? "service" : "product",
      price: [{ idPriceList: 1, price: input.price ?? 120000 }],
      counts: input.counts === null ? undefined : new Map(Object.entries(input.counts ?? { "1": 0 })),
    };
    this.items.set(id, item);
    return item;
  }

  /** Adds a warehouse ("bodega"); items count 0 in it until told otherwise. */
  addWarehouse(input: { name: string; isDefault?: boolean; status?: string }) {
    const id = String(Math.max(0, ...this.warehouses.map((w) => Number(w.id))) + 1);
    const warehouse: EmulatedWarehouse = { id, isDefault: false, status: "active", ...input };
    this.warehouses.push(warehouse);
    return warehouse;
  }

  countOf(itemId: string, warehouseId = "1") {
    return this.items.get(itemId)!.counts!.get(warehouseId) ?? 0;
  }

  /** Edits an item's count in a warehouse, as a merchant would in accounting; notifies edit-item. */
  async setCount(itemId: string, warehouseId: string, quantity: number): Promise<Notification> {
    this.items.get(itemId)!.counts!.set(warehouseId, quantity);
    const notification = { subject: "edit-item", message: { item: this.serialize(this.items.get(itemId)!) } };
    if (this.autoNotify) await this.notify(notification);
    return notification;
  }

  // ---------- faults ----------

  /** Answers `status` to the next `times` requests matching `match`, after letting `skip` through. */
  fail(status: number, options: { times?: number; match?: RegExp; skip?: number } = {}) {
    this.faults.push({ status, match: options.match ?? /./, remaining: options.times ?? Infinity, skip: options.skip ?? 0 });
  }

  /** Delays matching requests by `delayMs`, then answers them normally. */
  slow(delayMs: number, options: { match?: RegExp } = {}) {
    this.faults.push({ delayMs, match: options.match ?? /./, remaining: Infinity, skip: 0 });
  }

  /** Never answers matching requests (until closed). */
  hang(options: { match?: RegExp; times?: number } = {}) {
    this.faults.push({ hang: true, match: options.match ?? /./, remaining: options.times ?? Infinity, skip: 0 });
  }

  heal() {
    this.faults = [];
  }

  // ---------- notifications ----------

  /** POSTs a notification to every subscription of its event; resolves with the answers' statuses. */
  async notify(notification: Notification): Promise<number[]> {
    const targets = this.subscriptions.filter((s) => s.event === notification.subject);
    return Promise.all(targets.map((s) => this.deliver(s.url, JSON.stringify(notification))));
  }

  /** POSTs `body` to `url`, as the accounting system delivers notifications (answer within 5 s). */
  deliver(url: string, body: string): Promise<number> {
    const delivery = fetch(url, {
      method: "POST",
      headers: body ? { "content-type": "application/json" } : {},
      body,
      signal: AbortSignal.timeout(5_000),
    }).then(
      async (response) => {
        await response.arrayBuffer();
        this.deliveries.push({ url, body, status: response.status });
        return response.status;
      },
      () => {
        this.deliveries.push({ url, body, status: 0 });
        return 0;
      },
    );
    this.inFlight.add(delivery);
    void delivery.finally(() => this.inFlight.delete(delivery));
    return delivery;
  }

  /** Resolves once every notification sent so far has been answered. */
  async settled() {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  // ---------- the API ----------

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const path = (req.url ?? "").replace(/^\/api\/v1/, "");
    const request = `${req.method} ${path}`;
    this.requests.push(request);
    const body = await readJson(req);
    const fault = this.faultFor(request);
    if (fault && "hang" in fault) return;
    if (fault && "delayMs" in fault) await sleep(fault.delayMs);
    if (fault && "status" in fault) return send(res, fault.status, { message: `emulated failure ${fault.status}`, code: fault.status });
    if (!this.authorized(req)) return send(res, 401, { message: "Las credenciales no son válidas", code: 401 });
    const [route, query] = path.split("?") as [string, string | undefined];
    const params = new URLSearchParams(query ?? "");
    const itemId = /^\/items\/([^/]+)$/.exec(route)?.[1];
    const subscriptionId = /^\/webhooks\/subscriptions\/([^/]+)$/.exec(route)?.[1];

    if (req.method === "GET" && route === "/company") return send(res, 200, { id: 1, name: "Ejemplar SAS" });
    if (req.method === "GET" && route === "/warehouses") return send(res, 200, this.warehouses.map((w) => this.serializeWarehouse(w)));
    if (req.method === "GET" && route === "/items") return this.listItems(res, params);
    if (req.method === "GET" && itemId) {
      const item = this.items.get(decodeURIComponent(itemId));
      return item ? send(res, 200, this.serialize(item)) : send(res, 404, { message: "El ítem no existe", code: 404 });
    }
    if (req.method === "POST" && route === "/invoices") return this.createInvoice(res, body);
    if (req.method === "GET" && route === "/webhooks/subscriptions") return send(res, 200, this.subscriptions);
    if (req.method === "POST" && route === "/webhooks/subscriptions") return this.subscribe(res, body);
    if (req.method === "DELETE" && subscriptionId) {
      const index = this.subscriptions.findIndex((s) => s.id === subscriptionId);
      if (index < 0) return send(res, 404, { message: "La suscripción no existe", code: 404 });
      this.subscriptions.splice(index, 1);
      return send(res, 200, { code: 200, message: "Suscripción eliminada" });
    }
    return send(res, 404, { message: `no route ${request}`, code: 404 });
  }

  private faultFor(request: string): Fault | undefined {
    for (const fault of this.faults) {
      if (fault.remaining <= 0 || !fault.match.test(request)) continue;
      if (fault.skip > 0) {
        fault.skip--;
        continue;
      }
      fault.remaining--;
      return fault;
    }
    return undefined;
  }

  private authorized(req: IncomingMessage) {
    const expected = `Basic ${Buffer.from(`${this.email}:${this.token}`).toString("base64")}`;
    return req.headers.authorization === expected;
  }

  private listItems(res: ServerResponse, params: URLSearchParams) {
    const start = Number(params.get("start") ?? 0);
    const limit = Number(params.get("limit") ?? 30);
    if (!(limit >= 1 && limit <= 30)) return send(res, 400, { message: "limit debe estar entre 1 y 30", code: 400 });
    const page = [...this.items.values()].slice(start, start + limit);
    return send(res, 200, page.map((item) => this.serialize(item)));
  }

  private createInvoice(res: ServerResponse, request: any) {
    const lines: any[] = request?.items ?? [];
    if (!request?.client?.id || lines.length === 0) return send(res, 400, { message: "cliente e ítems son obligatorios", code: 400 });
    for (const line of lines) {
      const item = this.items.get(String(line.id));
      if (!item) return send(res, 400, { message: `el ítem ${line.id} no existe`, code: 400 });
      const warehouse = this.warehouses.find((w) => w.id === String(line.warehouse?.id));
      if (item.counts && !warehouse) return send(res, 400, { message: `la bodega ${line.warehouse?.id} no existe`, code: 400 });
      if (item.counts && warehouse!.status !== "active") {
        return send(res, 400, { message: `la bodega ${warehouse!.name} está inactiva`, code: 400 });
      }
      if (!(line.quantity > 0)) return send(res, 400, { message: "cantidad inválida", code: 400 });
    }
    for (const line of lines) {
      const counts = this.items.get(String(line.id))!.counts;
      const warehouseId = String(line.warehouse.id);
      counts?.set(warehouseId, (counts.get(warehouseId) ?? 0) - line.quantity);
    }
    const id = String(100 + this.invoices.length + 1);
    const invoice = { id, number: `FV-${id}`, request };
    this.invoices.push(invoice);
    send(res, 201, { id, numberTemplate: { fullNumber: invoice.number }, status: "open", date: request.date });
    if (this.autoNotify) {
      void this.notify({ subject: "new-invoice", message: { invoice: { id, items: lines.map((line) => ({ id: String(line.id), quantity: line.quantity })) } } });
    }
  }

  private async subscribe(res: ServerResponse, request: any) {
    if (typeof request?.url !== "string" || typeof request?.event !== "string") {
      return send(res, 400, { message: "url y event son obligatorios", code: 400 });
    }
    // like the real system, the URL must answer an empty POST with 2xx before it is subscribed
    const status = await this.deliver(request.url, "");
    if (status < 200 || status >= 300) return send(res, 400, { message: `la URL respondió ${status}`, code: 400 });
    const subscription = { id: `s${this.nextId++}`, url: request.url, event: request.event };
    this.subscriptions.push(subscription);
    return send(res, 201, subscription);
  }

  private serializeWarehouse(warehouse: EmulatedWarehouse) {
    if (!this.omitAssumedFields) return warehouse;
    const { isDefault: _, ...rest } = warehouse;
    return rest;
  }

  private serialize(item: EmulatedItem) {
    const { counts, ...rest } = item;
    if (!counts) return rest;
    const warehouses = this.warehouses.map((w) => ({ id: w.id, name: w.name, availableQuantity: counts.get(w.id) ?? 0 }));
    const total = warehouses.reduce((sum, w) => sum + w.availableQuantity, 0);
    return {
      ...rest,
      inventory: {
        unit: "unit",
        availableQuantity: total,
        initialQuantity: total,
        unitCost: 60000,
        ...(this.omitAssumedFields ? {} : { warehouses }),
      },
    };
  }
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : null;
}

function send(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
