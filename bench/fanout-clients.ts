/**
 * The subscribers of the fan-out bench, in a process of their own (started by bench/fanout.ts,
 * driven over IPC). It opens one WebSocket per subscriber, each with one subscription, then
 * triggers updates one at a time and records when each subscriber receives each of them.
 *
 * Latency of a receipt = the time it arrives here - the time taken right before this process sent
 * the request that causes the update (the GraphQL mutation, or the raw server's /publish). Both
 * ends are read from this process's own clock (performance.now()), so no clocks are compared, and
 * the service's figure includes its whole mutation (HTTP, transaction, COMMIT, Redis) on top of
 * the fan-out. Receipts are matched to updates by the `version` in the message.
 *
 * Both kinds of server get the same client: `graphql` speaks graphql-ws (graphql-transport-ws)
 * and subscribes; `raw` only connects. Either way a receipt costs the same here: a regex for the
 * version on the message text.
 */
import WebSocket from "ws";
import { terminateAll } from "./client-sockets.ts";

export type Group = {
  name: string;
  /** ws:// URL */
  url: string;
  kind: "graphql" | "raw";
  count: number;
  /** the graphql-ws subscribe payload (kind graphql) */
  subscribe?: { query: string; variables: Record<string, unknown> };
};

export type Trigger = { url: string; headers: Record<string, string>; body: (version: number) => string };

export type Command =
  | { type: "connect"; groups: Group[] }
  | { type: "run"; updates: number; firstVersion: number; intervalMs: number; trigger: Omit<Trigger, "body"> & { bodyTemplate: string } }
  | { type: "close" };

export type GroupResult = { name: string; expected: number; received: number; latenciesMs: number[] };
export type Reply =
  | { type: "connected"; ms: number; open: number; failed: number; firstError?: string }
  | { type: "result"; groups: GroupResult[]; triggerErrors: number; firstTriggerError?: string }
  | { type: "closed" };

const VERSION = /"version":(\d+)/;
const CONNECTING_AT_ONCE = 200;

type Subscriber = { group: number; socket: WebSocket };
const subscribers: Subscriber[] = [];
let groups: Group[] = [];
/** receipts[group][update index] = latencies */
let onReceipt: ((group: number, version: number, at: number) => void) | null = null;

function open(group: Group, index: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(group.url, group.kind === "graphql" ? "graphql-transport-ws" : undefined, { perMessageDeflate: false });
    const subscriber = { group: index, socket };
    const timer = setTimeout(() => reject(new Error("timed out subscribing")), 60_000);
    const ready = () => {
      clearTimeout(timer);
      resolve(subscriber);
    };
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("open", () => {
      if (group.kind === "raw") return ready();
      socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
    });
    socket.on("message", (data: Buffer) => {
      const at = performance.now();
      const text = data.toString();
      if (group.kind === "graphql" && text.startsWith('{"type":"connection_ack"')) {
        socket.send(JSON.stringify({ id: "1", type: "subscribe", payload: group.subscribe }));
        // graphql-ws sends nothing back on subscribe; a short pause lets the server register it
        setTimeout(ready, 0);
        return;
      }
      const version = VERSION.exec(text);
      if (version) onReceipt?.(index, Number(version[1]), at);
      else if (text.includes('"errors"') || text.includes('"type":"error"')) console.error(`[fanout-clients] ${text.slice(0, 300)}`);
    });
  });
}

async function connect(command: Extract<Command, { type: "connect" }>): Promise<Reply> {
  groups = command.groups;
  const started = performance.now();
  let failed = 0;
  let firstError: string | undefined;
  const pending: { group: Group; index: number }[] = [];
  for (const [index, group] of groups.entries()) for (let i = 0; i < group.count; i++) pending.push({ group, index });
  let next = 0;
  const worker = async () => {
    while (next < pending.length) {
      const { group, index } = pending[next++]!;
      try {
        subscribers.push(await open(group, index));
      } catch (error) {
        failed++;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTING_AT_ONCE }, worker));
  return { type: "connected", ms: performance.now() - started, open: subscribers.length, failed, firstError };
}

async function run(command: Extract<Command, { type: "run" }>): Promise<Reply> {
  const counts = groups.map((_, index) => subscribers.filter((s) => s.group === index).length);
  const total = counts.reduce((sum, count) => sum + count, 0);
  const latencies = groups.map(() => [] as number[]);
  const sentAt = new Map<number, number>();
  let receivedThisUpdate = 0;
  let allReceived: (() => void) | null = null;
  onReceipt = (group, version, at) => {
    const sent = sentAt.get(version);
    if (sent === undefined) return;
    latencies[group]!.push(at - sent);
    if (++receivedThisUpdate === total) allReceived?.();
  };
  let triggerErrors = 0;
  let firstTriggerError: string | undefined;
  for (let k = 0; k < command.updates; k++) {
    const version = command.firstVersion + k;
    receivedThisUpdate = 0;
    const done = new Promise<void>((resolve) => {
      allReceived = resolve;
      setTimeout(resolve, 15_000);
    });
    const body = command.trigger.bodyTemplate.replaceAll('"$VERSION"', String(version));
    sentAt.set(version, performance.now());
    const answer = await fetch(command.trigger.url, { method: "POST", headers: command.trigger.headers, body }).then(
      (response) => response.text(),
      (error: Error) => `fetch failed: ${error.message}`,
    );
    if (!answer.includes(`"version":${version}`) && !answer.startsWith("ok")) {
      triggerErrors++;
      firstTriggerError ??= answer.slice(0, 300);
    }
    await done;
    await new Promise((resolve) => setTimeout(resolve, command.intervalMs));
  }
  onReceipt = null;
  return {
    type: "result",
    triggerErrors,
    firstTriggerError,
    groups: groups.map((group, index) => ({
      name: group.name,
      expected: counts[index]! * command.updates,
      received: latencies[index]!.length,
      latenciesMs: latencies[index]!,
    })),
  };
}

async function close(): Promise<Reply> {
  await terminateAll(subscribers.map(({ socket }) => socket));
  subscribers.length = 0;
  return { type: "closed" };
}

process.on("message", async (command: Command) => {
  const reply = command.type === "connect" ? await connect(command) : command.type === "run" ? await run(command) : await close();
  process.send!(reply);
  if (command.type === "close") process.disconnect();
});
