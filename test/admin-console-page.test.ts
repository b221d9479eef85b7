import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { buildSchema, parse, validate } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as api from "../src/admin/client/api.ts";
import { startTestServer, type TestServer } from "./support/harness.ts";

/** The console's HTTP side and its operations, without a browser (test/admin-console-browser.test.ts drives it). */
describe("the merchant's console over HTTP", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("serves /admin as a shell that runs only its own script, talks only to its own origin and submits no form", async () => {
    for (const path of ["/admin", "/admin/"]) {
      const response = await fetch(`${server.url}${path}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const policy = response.headers.get("content-security-policy")!;
      for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "form-action 'none'", "frame-ancestors 'none'", "base-uri 'none'"]) {
        expect(policy).toContain(directive);
      }
      expect(policy).not.toContain("unsafe");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
      expect(response.headers.get("cache-control")).toBe("no-store");
      const html = await response.text();
      expect(html).toContain('<script type="module" src="/admin/app.js"></script>');
      expect(html).not.toMatch(/<script>|<style>| style=| on\w+=/);
    }
  });

  it("serves its client, small, revalidated by ETag", async () => {
    const script = await fetch(`${server.url}/admin/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const body = new Uint8Array(await script.arrayBuffer());
    // the README says ~35 KB compressed: a dependency that doubles it should be a choice, not an accident
    expect(gzipSync(body).length).toBeLessThan(45_000);
    const etag = script.headers.get("etag")!;
    expect((await fetch(`${server.url}/admin/app.js`, { headers: { "if-none-match": etag } })).status).toBe(304);
    const styles = await fetch(`${server.url}/admin/app.css`);
    expect(styles.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await fetch(`${server.url}/admin/other.js`)).status).not.toBe(200);
  });

  it("sends only operations of the public schema (schema.graphql)", () => {
    const schema = buildSchema(readFileSync(new URL("../schema.graphql", import.meta.url), "utf8"));
    const operations = Object.entries(api).filter(([name, value]) => typeof value === "string" && /^[A-Z_]+$/.test(name));
    expect(operations.length).toBeGreaterThan(20);
    for (const [name, document] of operations) {
      expect(validate(schema, parse(document as string)).map((error) => `${name}: ${error.message}`)).toEqual([]);
    }
  });
});
