import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Holds an HTTP request body to `maxBytes` before anything parses it. A body with a
 * Content-Length (what every GraphQL client sends) is judged by it alone: Node's parser never
 * delivers more than it declares. A chunked body is counted while it streams in and kept on
 * `req.body`, where yoga's Node adapter takes a body already read from. A larger body is
 * answered 413 at once and its connection closed, so it costs neither memory nor parsing.
 * Resolves whether the request may go on.
 */
export function withinBodyLimit(req: IncomingMessage, res: ServerResponse, maxBytes: number): Promise<boolean> {
  const declared = req.headers["content-length"];
  if (declared !== undefined) return Promise.resolve(Number(declared) <= maxBytes || refuseTooLarge(req, res, maxBytes));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      req.off("data", onData).off("end", onEnd);
      resolve(refuseTooLarge(req, res, maxBytes));
    };
    const onEnd = () => {
      if (size > 0) (req as IncomingMessage & { body?: Buffer }).body = Buffer.concat(chunks, size);
      resolve(true);
    };
    // a request cut off before its end goes no further (after "end", this resolves nothing new)
    req.on("data", onData).once("end", onEnd).once("close", () => resolve(false));
  });
}

function refuseTooLarge(req: IncomingMessage, res: ServerResponse, maxBytes: number): false {
  const answer = {
    errors: [{ message: `The request body is larger than ${maxBytes} bytes`, extensions: { code: "PAYLOAD_TOO_LARGE" } }],
  };
  // The rest of the body is never read: once the answer is out, the connection goes.
  res.once("finish", () => req.socket.destroy());
  res.writeHead(413, { "content-type": "application/json; charset=utf-8", connection: "close" }).end(JSON.stringify(answer));
  return false;
}
