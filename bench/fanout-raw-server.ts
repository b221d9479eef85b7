/**
 * The raw floor of live fan-out: a plain `ws` server that broadcasts one update to every
 * connected socket. POST /publish with a StockUpdate as JSON: the server wraps it in the same
 * graphql-ws `next` message the service sends, serializes it once and sends it to every client.
 * No GraphQL, no subscriptions, no Redis, no database. Prints its port as one line on stdout.
 */
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const server = createServer((req, res) => {
  if (req.method !== "POST" || req.url !== "/publish") return res.writeHead(404).end();
  let body = "";
  req.setEncoding("utf8");
  req.on("data", (chunk) => (body += chunk));
  req.on("end", () => {
    const message = JSON.stringify({ id: "1", type: "next", payload: { data: { stockUpdates: JSON.parse(body) } } });
    for (const socket of sockets.clients) socket.send(message);
    res.writeHead(200, { "content-type": "text/plain" }).end("ok");
  });
});
const sockets = new WebSocketServer({ server, path: "/graphql" });

server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${(server.address() as { port: number }).port}\n`);
});
process.on("SIGTERM", () => {
  for (const socket of sockets.clients) socket.terminate();
  server.close(() => process.exit(0));
});
