import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

/**
 * Debian's Chromium, driven by playwright-core (which never downloads a browser of its own), for
 * the tests that open a page. Without it those tests are skipped with a note, except under
 * CI=true, where .ci/run installs it and a missing browser fails the run.
 */
const CHROMIUM = "/usr/bin/chromium";

/** Headless, sandbox-less as root, and none of the background traffic this closed network refuses. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const runsInCI = Boolean(process.env.CI) && process.env.CI !== "false";

/** Whether a browser test can run here; says why not, once, for `what`. */
export function browserAvailable(what: string): boolean {
  const available = existsSync(CHROMIUM) || runsInCI;
  if (!available) console.warn(`${what} skipped: no Chromium at ${CHROMIUM} (install it with: apt-get install -y chromium)`);
  return available;
}

/** A headless Chromium; `args` adds flags (e.g. host resolver rules). */
export function launchChromium(args: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...args], headless: true });
}
