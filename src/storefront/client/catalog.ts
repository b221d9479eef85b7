/**
 * The storefront's picture of the store's items, kept current from two sources: full reads of
 * the list (on load and after a lost connection) and live StockUpdates. Each item carries the
 * `version` it was read at, and each of its variants the item version its state is from, so
 * whichever arrives late (an update older than a read, or a read older than an update) never
 * overwrites newer news. Pure data: no DOM, no network.
 */
export type Availability = "IN_STOCK" | "BACKORDER" | "SOLD_OUT" | "HIDDEN";

export type ItemOption = { name: string; values: string[] };
export type OptionValue = { name: string; value: string };

export type StorefrontVariant = {
  id: string;
  /** one value of each of the item's options; empty for the default variant of an item without them */
  options: OptionValue[];
  price: string;
  availability: Availability;
  availableQuantity: number | null;
  /** the item's version this variant's state is from (updates carry the item's version) */
  version: number;
};

export type StorefrontItem = {
  id: string;
  name: string;
  type: "PRODUCT" | "SERVICE";
  price: string;
  /** the item's: the best of its variants' (SOLD_OUT only when every variant is) */
  availability: Availability;
  availableQuantity: number | null;
  version: number;
  /** empty for an item sold as itself */
  options: ItemOption[];
  /** the variants a shopper may pick, never HIDDEN ones, in the merchant's order */
  variants: StorefrontVariant[];
};

export type StockUpdate = {
  itemId: string;
  /** the item's, over all its variants */
  availability: Availability;
  availableQuantity: number | null;
  version: number;
  /** the variant whose stock changed, and its own state */
  variantId: string;
  variantAvailability: Availability;
  variantAvailableQuantity: number | null;
};

/** What the page has to do after a live update. */
export type UpdateOutcome =
  /** older than what is shown, or about an item that stays hidden: nothing */
  | { kind: "ignored" }
  /**
   * the item or one of its variants changed; `missedSome`: its version jumped, so updates were
   * lost: re-read the list; `unknownVariant`: a variant the page never read became visible:
   * read the item for its options
   */
  | { kind: "changed"; item: StorefrontItem; missedSome: boolean; unknownVariant: boolean }
  /** the item became HIDDEN: take it off the page */
  | { kind: "removed"; itemId: string }
  /** an item the page does not show became visible: read its name and price, then add it */
  | { kind: "fetch"; itemId: string };

/** `readVersion`: the newest read of the item; a variant it lacked was hidden then. */
type Entry = { item: StorefrontItem; changedAt: number; readVersion: number };

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
    if (!entry) {
      const hiddenAt = this.hiddenVersions.get(update.itemId);
      if (hiddenAt !== undefined && update.version <= hiddenAt) return { kind: "ignored" };
      if (update.availability === "HIDDEN") {
        this.hide(update.itemId, update.version);
        return { kind: "ignored" };
      }
      return { kind: "fetch", itemId: update.itemId };
    }
    const current = entry.item;
    // Updates of several variants changed together share the item's version: the item's fields
    // move on with a newer version only, each variant's with one newer than its own.
    const itemIsNewer = update.version > current.version;
    if (itemIsNewer && update.availability === "HIDDEN") {
      this.hide(update.itemId, update.version);
      return { kind: "removed", itemId: update.itemId };
    }
    const variant = current.variants.find((candidate) => candidate.id === update.variantId);
    const variantIsNewer = variant !== undefined && update.version > variant.version;
    const unknownVariant = variant === undefined && update.variantAvailability !== "HIDDEN" && update.version > entry.readVersion;
    if (!itemIsNewer && !variantIsNewer && !unknownVariant) return { kind: "ignored" };

    let variants = current.variants;
    if (variantIsNewer) {
      variants =
        update.variantAvailability === "HIDDEN"
          ? variants.filter((candidate) => candidate.id !== update.variantId)
          : variants.map((candidate) =>
              candidate.id === update.variantId
                ? { ...candidate, availability: update.variantAvailability, availableQuantity: update.variantAvailableQuantity, version: update.version }
                : candidate,
            );
    }
    const item: StorefrontItem = itemIsNewer
      ? { ...current, availability: update.availability, availableQuantity: update.availableQuantity, version: update.version, variants }
      : { ...current, variants };
    this.shown.set(item.id, { ...entry, item, changedAt: ++this.clock });
    return { kind: "changed", item, missedSome: update.version > current.version + 1, unknownVariant };
  }

  /**
   * Takes an item as a read found it. A read as new as what is shown, or newer, replaces the
   * item; an older one only adds what it knew and the page did not. Either way a variant that an
   * update changed after the read keeps that update's state, and one the read lacks (hidden at
   * the time) leaves unless an update showed it since.
   */
  private upsert(fresh: StorefrontItem): boolean {
    const entry = this.shown.get(fresh.id);
    if (!entry) {
      const hiddenAt = this.hiddenVersions.get(fresh.id);
      if (hiddenAt !== undefined && fresh.version < hiddenAt) return false;
      if (fresh.availability === "HIDDEN") {
        this.hide(fresh.id, fresh.version);
        return true;
      }
      this.hiddenVersions.delete(fresh.id);
      this.shown.set(fresh.id, { item: fresh, changedAt: ++this.clock, readVersion: fresh.version });
      return true;
    }
    const current = entry.item;
    const readIsCurrent = fresh.version >= current.version;
    if (readIsCurrent && fresh.availability === "HIDDEN") {
      this.hide(fresh.id, fresh.version);
      return true;
    }
    const known = new Map(current.variants.map((variant) => [variant.id, variant]));
    const variants = fresh.variants.map((variant) => {
      const mine = known.get(variant.id);
      known.delete(variant.id);
      return mine && mine.version > variant.version ? mine : variant;
    });
    for (const mine of known.values()) if (mine.version > fresh.version) variants.push(mine);
    const item = readIsCurrent ? { ...fresh, variants } : { ...current, variants };
    this.shown.set(item.id, { item, changedAt: ++this.clock, readVersion: Math.max(entry.readVersion, fresh.version) });
    return true;
  }

  private hide(itemId: string, version: number): void {
    this.shown.delete(itemId);
    this.hiddenVersions.set(itemId, version);
    this.clock++;
  }
}

/** The API's order of items: by name, in Spanish. */
export function byName(a: StorefrontItem, b: StorefrontItem): number {
  return a.name.localeCompare(b.name, "es") || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
