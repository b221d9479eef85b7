import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { databaseUrl, gqlData, startTestServer, type TestServer } from "./support/harness.ts";

const run = promisify(execFile);

const STOREFRONT = `query($slug: String!) {
  store(slug: $slug) { name items { edges { node { name type availability availableQuantity sellWithoutStock } } } }
}`;

/** `npm run seed:demo`: the help article's "Ejemplar" store, ready for the five-minute tour. */
describe("demo store", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server?.close());

  async function seedDemo() {
    const { stdout } = await run(process.execPath, ["--import", "tsx", "src/cli/seed-demo.ts"], {
      env: { ...process.env, DATABASE_URL: databaseUrl(), PUBLIC_URL: "http://shop.example:8080", LOG_LEVEL: "warn" },
    });
    const lines = stdout.trim().split("\n");
    return { lines, result: JSON.parse(lines.at(-1)!) as { slug: string; name: string; adminToken: string; storefrontUrl: string } };
  }

  it("creates Ejemplar with the article's items, prints its admin token and storefront URL, and makes ejemplar-2 when it exists", async () => {
    const first = await seedDemo();
    expect(first.result).toMatchObject({ name: "Ejemplar", adminToken: expect.stringMatching(/^sk_/) });
    expect(first.result.slug).toMatch(/^ejemplar(-\d+)?$/);
    expect(first.result.storefrontUrl).toBe(`http://shop.example:8080/store/${first.result.slug}`);
    expect(first.lines.join("\n")).toContain(first.result.adminToken);

    const data = await gqlData(server.url, STOREFRONT, { slug: first.result.slug });
    const items = Object.fromEntries(data.store.items.edges.map(({ node }: any) => [node.name, node]));
    expect(items["Bolso de cuero"]).toMatchObject({ availability: "IN_STOCK", availableQuantity: 5, sellWithoutStock: true });
    expect(items["Sombrero vueltiao"]).toMatchObject({ availability: "SOLD_OUT", availableQuantity: 0 });
    expect(items["Envío a domicilio"]).toMatchObject({ type: "SERVICE", availability: "IN_STOCK", availableQuantity: null });
    expect(Object.keys(items).length).toBeGreaterThanOrEqual(5);

    const second = await seedDemo();
    expect(second.result.slug).not.toBe(first.result.slug);
    expect(second.result.slug).toMatch(/^ejemplar-\d+$/);
    expect(second.lines[0]).toContain("exists already");
  });
});
