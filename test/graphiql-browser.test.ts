import { mkdir } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { browserAvailable, launchChromium } from "./support/browser.ts";
import { startTestServer, type TestServer } from "./support/harness.ts";

/**
 * GraphiQL at /graphql in Chromium with no network beyond the service: every script, style, font
 * and editor worker must come from the service itself. As test/storefront-browser.test.ts, it
 * drives Debian's Chromium through playwright-core; without it the test is skipped with a note,
 * except under CI=true, where a missing browser fails the run.
 */
// no host but the service resolves, whatever makes the request (the page, a worker, a font)
const ONLY_THE_SERVICE = ["--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"];
const SCREENSHOT = "test-results/graphiql.png";
const canRun = browserAvailable("GraphiQL browser test");

describe.skipIf(!canRun)("GraphiQL in Chromium", () => {
  let server: TestServer;
  let browser: Browser;

  beforeAll(async () => {
    server = await startTestServer({ config: { graphiql: true } });
    browser = await launchChromium(ONLY_THE_SERVICE);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("loads from the service alone and runs the first example tab, the storefront query", async () => {
    // the example tabs ask for the demo store (npm run seed:demo), which a test may have made already
    await server.db.pool.query(
      `INSERT INTO stores (slug, name, admin_token_hash) VALUES ('ejemplar', 'Ejemplar', '\\x00') ON CONFLICT (slug) DO NOTHING`,
    );
    const { rows } = await server.db.pool.query<{ name: string }>("SELECT name FROM stores WHERE slug = 'ejemplar'");
    const expected = `"name": ${JSON.stringify(rows[0].name)}`;

    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    const service = new URL(server.url);
    const requested: string[] = [];
    const elsewhere: string[] = [];
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      requested.push(url.href);
      if (url.host === service.host) return route.continue();
      elsewhere.push(url.href);
      return route.abort("blockedbyclient");
    });
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    try {
      await page.goto(`${server.url}/graphql`);
      const execute = page.locator(".graphiql-execute-button");
      await execute.waitFor({ timeout: 30_000 });
      await expect.poll(() => page.locator(".graphiql-tab").count()).toBe(4);
      await execute.click();
      // the editor lays the result out with non-breaking spaces
      const result = async () => ((await page.locator(".result-window").textContent()) ?? "").replace(/\s+/g, " ");
      await expect.poll(result, { timeout: 15_000 }).toContain(expected);
      expect(await result()).not.toContain('"errors"');

      await mkdir("test-results", { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
      expect(elsewhere).toEqual([]);
      expect(requested.some((url) => url.endsWith("/graphql"))).toBe(true);
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
