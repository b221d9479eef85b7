import { existsSync, readdirSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { buildSchema, parse, validate } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as api from "../src/admin/client/api.ts";
import { ERROR_CODE, errorDetail, errorText } from "../src/admin/client/messages.ts";
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

/** The values of `enum ErrorCode` and of every `extend enum ErrorCode` in a GraphQL file. */
function errorCodesIn(file: string): string[] {
  const blocks = readFileSync(file, "utf8").matchAll(/(?:extend\s+)?enum\s+ErrorCode\s*\{([^}]*)\}/g);
  return [...blocks].flatMap((block) => block[1]!.split("\n").map((line) => line.replace(/#.*/, "").trim()).filter(Boolean));
}

describe("what the console says of a refusal", () => {
  // A contract the service has not built yet (cart holds) adds codes too: ../shared holds them
  // beside the checkout, as CI lays it out; without it only schema.graphql is checked.
  const contracts = existsSync("../shared")
    ? readdirSync("../shared").filter((name) => /^contract.*\.graphql$/.test(name)).map((name) => `../shared/${name}`)
    : [];

  it("has Spanish for every ErrorCode of schema.graphql and of the contracts", () => {
    if (process.env.CI === "true") expect(contracts).toContain("../shared/contract-holds-alerts-bulk.graphql");
    const codes = new Set([...errorCodesIn("schema.graphql"), ...contracts.flatMap(errorCodesIn)]);
    expect(codes).toContain("RESERVATIONS_OFF");
    expect(codes.size).toBeGreaterThanOrEqual(11);
    for (const code of codes) expect(ERROR_CODE, code).toHaveProperty(code, expect.stringMatching(/^[A-ZÁÉÍÓÚ¿¡].+\.$/));
  });

  it("says a code's sentence where it knows nothing more exact, and keeps the service's English for a title", () => {
    const detail = "a new rule the console was never told about";
    const error = { code: "INVALID_INPUT" as const, message: detail, field: "somethingNew" };
    expect(errorText(error)).toBe("Revisa los datos: alguno no cumple las reglas de la tienda.");
    expect(errorDetail(error)).toBe(detail);
    // a field it knows, under a list ("variants.1.sku"), is said by the field's rule
    expect(errorText({ ...error, field: "variants.1.sku" })).toMatch(/^Revisa el SKU/);
    // a screen's own words win over the field's rule; the console's own Spanish has no English detail
    expect(errorText({ ...error, field: "quantity" }, { INVALID_INPUT: "Otra frase." })).toBe("Otra frase.");
    expect(errorDetail({ ...error, text: "Escribe un número." })).toBeUndefined();
    for (const code of Object.keys(ERROR_CODE) as (keyof typeof ERROR_CODE)[]) {
      expect(errorText({ code, message: detail })).toBe(ERROR_CODE[code]);
      expect(errorText({ code, message: detail })).not.toContain(detail);
    }
  });
});
