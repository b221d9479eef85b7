/**
 * Live stock on the page: the one stockUpdates subscription (started by the shell) hands each
 * update to the screens showing that item, which re-read it; after the socket comes back they
 * re-read everything, since updates sent meanwhile were lost.
 */
import { useEffect, useRef } from "preact/hooks";
import type { LowStockAlert, StockUpdate } from "./api.ts";

type Listener = { onUpdate(update: StockUpdate): void; onResync(): void; onAlert?(alert: LowStockAlert): void };
const listeners = new Set<Listener>();

export function publishUpdate(update: StockUpdate) {
  for (const listener of listeners) listener.onUpdate(update);
}

/** A low-stock alert as it arrives (lowStockAlertsAdded): screens showing its item re-read it. */
export function publishAlert(alert: LowStockAlert) {
  for (const listener of listeners) listener.onAlert?.(alert);
}

export function publishResync() {
  for (const listener of listeners) listener.onResync();
}

/**
 * Calls `refresh` (at most every 200 ms) when an update is newer than what the screen shows:
 * `shownVersion` gives the version on screen for an item, undefined for items not shown.
 */
export function useLiveRefresh(shownVersion: (itemId: string) => number | undefined, refresh: () => void) {
  const latest = useRef({ shownVersion, refresh });
  latest.current = { shownVersion, refresh };
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const soon = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        latest.current.refresh();
      }, 200);
    };
    const listener: Listener = {
      onUpdate: (update) => {
        const shown = latest.current.shownVersion(update.itemId);
        if (shown !== undefined && update.version > shown) soon();
      },
      onResync: soon,
      // a threshold can make a variant low without a change of stock (and so of version)
      onAlert: (alert) => {
        if (latest.current.shownVersion(alert.item.id) !== undefined) soon();
      },
    };
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      clearTimeout(timer);
    };
  }, []);
}

/**
 * Calls `onAlerts` (at most every 200 ms) with the low-stock alerts that arrived while the screen
 * is shown: a bulk count may take hundreds of variants low at once.
 */
export function useLowStockAlerts(onAlerts: (alerts: LowStockAlert[]) => void) {
  const latest = useRef(onAlerts);
  latest.current = onAlerts;
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let arrived: LowStockAlert[] = [];
    const listener: Listener = {
      onUpdate: () => {},
      onResync: () => {},
      onAlert: (alert) => {
        arrived.push(alert);
        timer ??= setTimeout(() => {
          timer = undefined;
          const alerts = arrived;
          arrived = [];
          latest.current(alerts);
        }, 200);
      },
    };
    listeners.add(listener);
    return () => {
      listeners.delete(listener);
      clearTimeout(timer);
    };
  }, []);
}
