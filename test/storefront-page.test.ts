import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newStore, startTestServer, type TestServer } from "./support/harness.ts";

/** The storefront's HTTP side: the page shell, its 404, and the bundled client (no browser needed). */
describe("storefront page over HTTP", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  it("serves a store's page with its name escaped and a policy that allows only its own script and origin", async () => {
    const store = await newStore(server.db, `Ejemplar "<script>alert(1)</script>"`);
    const response = await fetch(`${server.url}/store/${store.slug}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
    const html = await response.text();
    expect(html).toContain("<h1>Ejemplar &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;</h1>");
    expect(html).not.toContain("<script>alert(1)");
    expect(html).toContain(`data-store-slug="${store.slug}"`);
    expect(html).toContain('<script type="module" src="/storefront/app.js"></script>');
  });

  it("finds the store whatever the case of the slug in the address", async () => {
    const store = await newStore(server.db);
    expect((await fetch(`${server.url}/store/${store.slug.toUpperCase()}/`)).status).toBe(200);
  });

  it("answers an unknown store with a 404 page", async () => {
    const response = await fetch(`${server.url}/store/no-such-store`);
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await response.text()).toContain("Tienda no encontrada");
    expect((await fetch(`${server.url}/store/%3Cb%3E`)).status).toBe(404);
  });

  it("serves the client bundled with the graphql-ws browser client, revalidated by ETag", async () => {
    const script = await fetch(`${server.url}/storefront/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    const body = await script.text();
    expect(body).toContain("graphql-transport-ws");
    expect(body).toContain("stockUpdates");
    const etag = script.headers.get("etag")!;
    expect((await fetch(`${server.url}/storefront/app.js`, { headers: { "if-none-match": etag } })).status).toBe(304);

    const styles = await fetch(`${server.url}/storefront/app.css`);
    expect(styles.status).toBe(200);
    expect(styles.headers.get("content-type")).toBe("text/css; charset=utf-8");
    expect((await fetch(`${server.url}/storefront/other.js`)).status).not.toBe(200);
  });
});
