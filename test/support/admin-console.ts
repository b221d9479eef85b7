import type { Browser, Page } from "playwright-core";
import type { TestStore } from "./harness.ts";

/** How long the console may take to show a change (a loaded CI machine is slow, not wrong). */
export const SHOWN_WITHIN = { timeout: 15_000 };

/**
 * A new page of the console at `url`, signed in to `store`, recording what a test must not see:
 * script errors, console errors, and the token in any URL the page asks for.
 */
export async function signInToConsole(
  browser: Browser,
  url: string,
  store: TestStore,
  options: { acceptDownloads?: boolean } = {},
): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 }, ...options });
  const problems: string[] = [];
  page.on("pageerror", (error) => problems.push(error.message));
  page.on("console", (message) => void (message.type() === "error" && problems.push(message.text())));
  page.on("request", (request) => void (request.url().includes(store.token) && problems.push(`token in a URL: ${request.url()}`)));
  await page.goto(`${url}/admin`);
  await page.getByLabel("Dirección de la tienda").fill(store.slug);
  await page.getByLabel("Token de administrador").fill(store.token);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Productos" }).waitFor(SHOWN_WITHIN);
  return { page, problems };
}
