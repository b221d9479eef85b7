/**
 * The signed-in store and its admin token, kept in this tab's session storage: gone when the tab
 * closes, never shared with other tabs, never written to a URL or a log.
 */
import type { Session } from "./api.ts";

const KEY = "admin-session";

export function readSession(): Session | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Session | null;
    return saved && typeof saved.slug === "string" && typeof saved.token === "string" ? saved : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export function forgetSession() {
  sessionStorage.removeItem(KEY);
}
