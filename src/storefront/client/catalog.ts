/**
 * The storefront's picture of the store's items, kept current from two sources: full reads of
 * the list (on load and after a lost connection) and live StockUpdates. Each item carries the
 * `version` it was read at, so whichever arrives late (an update older than a read, or a read
 * older than an update) never overwrites newer news. Pure data: no DOM, no network.
 */
export type Availability = "IN_STOCK" | "BACKORDER" | "SOLD_OUT" | "HIDDEN";

export type StorefrontItem = {
  id: string;
  name: string;
  type: "PRODUCT" | "SERVICE";
  price: string;
  availability: Availability;
  availableQuantity: number | null;
  version: number;
};

export type StockUpdate = {
  itemId: string;
  availability: Availability;
  availableQuantity: number | null;
  version: number;
};

/** What the page has to do after a live update. */
export type UpdateOutcome =
  /** older than what is shown, or about an item that stays hidden: nothing */
  | { kind: "ignored" }
  /** the item's badge changed; `missedSome`: its version jumped, so updates were lost: re-read the list */
  | { kind: "changed"; item: StorefrontItem; missedSome: boolean }
  /** the item became HIDDEN: take it off the page */
  | { kind: "removed"; itemId: string }
  /** an item the page does not show became visible: read its name and price, then add it */
  | { kind: "fetch"; itemId: string };

type Entry = { item: StorefrontItem; changedAt: number };

export class Catalog {
  private readonly shown = new Map<string, Entry>();
  /** Newest version seen of items not on the page (HIDDEN), so their stale updates are dropped too. */
  private readonly hiddenVersions = new Map<string, number>();
  /** Counts changes, so a full read can tell which entries changed after it was requested. */
  private clock = 0;

  /** The items to show, in the API's order (by name). */
  items(): StorefrontItem[] {
    return [...this.shown.values()].map((entry) => entry.item).sort(byName);
  }

  get(itemId: string): StorefrontItem | undefined {
    return this.shown.get(itemId)?.item;
  }

  /** A mark to pass to `replaceAll` for a full read requested now. */
  mark(): number {
    return this.clock;
  }

  /**
   * Takes a full read of the visible items, requested at `requestedAt` (from `mark()`). An item
   * the read lacks is hidden now, unless an update about it arrived after the read was asked for.
   */
  replaceAll(fresh: readonly StorefrontItem[], requestedAt: number): void {
    const freshIds = new Set(fresh.map((item) => item.id));
    for (const [id, entry] of this.shown) {
      if (!freshIds.has(id) && entry.changedAt <= requestedAt) this.hide(id, entry.item.version);
    }
    for (const item of fresh) this.upsert(item);
  }

  /**
   * Takes one item read at `requestedAt` (null: the read found it hidden or gone); true when the
   * page must change. A null read does not hide an item an update showed after it was requested.
   */
  put(itemId: string, fresh: StorefrontItem | null, requestedAt: number): boolean {
    if (fresh) return this.upsert(fresh);
    const entry = this.shown.get(itemId);
    if (!entry || entry.changedAt > requestedAt) return false;
    this.hide(itemId, entry.item.version);
    return true;
  }

  /** Applies a live StockUpdate; see UpdateOutcome for what the page does next. */
  applyUpdate(update: StockUpdate): UpdateOutcome {
    const entry = this.shown.get(update.itemId);
    const known = entry?.item.version ?? this.hiddenVersions.get(update.itemId);
    if (known !== undefined && update.version <= known) return { kind: "ignored" };
    if (update.availability === "HIDDEN") {
      this.hide(update.itemId, update.version);
      return entry ? { kind: "removed", itemId: update.itemId } : { kind: "ignored" };
    }
    if (!entry) return { kind: "fetch", itemId: update.itemId };
    const item: StorefrontItem = {
      ...entry.item,
      availability: update.availability,
      availableQuantity: update.availableQuantity,
      version: update.version,
    };
    this.shown.set(item.id, { item, changedAt: ++this.clock });
    return { kind: "changed", item, missedSome: update.version > entry.item.version + 1 };
  }

  private upsert(item: StorefrontItem): boolean {
    const current = this.shown.get(item.id)?.item.version ?? this.hiddenVersions.get(item.id);
    if (current !== undefined && item.version < current) return false;
    if (item.availability === "HIDDEN") {
      this.hide(item.id, item.version);
      return true;
    }
    this.hiddenVersions.delete(item.id);
    this.shown.set(item.id, { item, changedAt: ++this.clock });
    return true;
  }

  private hide(itemId: string, version: number): void {
    this.shown.delete(itemId);
    this.hiddenVersions.set(itemId, version);
    this.clock++;
  }
}

function byName(a: StorefrontItem, b: StorefrontItem): number {
  return a.name.localeCompare(b.name, "es") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
