import type { Deps } from "../deps.ts";
import { OperationError } from "../errors.ts";
import { createItem, type CreateItemInput } from "../stock/items.ts";
import { createStore } from "./stores.ts";

/**
 * The help article's example store, "Ejemplar", with one item of each kind a storefront shows:
 * the article's leather bag (5 units, "Vender sin Stock": an order of 10 leaves -5), a sold-out
 * product ("Agotado"), a service (never tracked) and ordinary products.
 */
export const DEMO_STORE = { slug: "ejemplar", name: "Ejemplar" } as const;

export const DEMO_ITEMS: readonly CreateItemInput[] = [
  { name: "Bolso de cuero", type: "PRODUCT", price: "120000", sku: "BOLSO-CUERO", quantity: 5, sellWithoutStock: true },
  { name: "Sombrero vueltiao", type: "PRODUCT", price: "85000", sku: "SOMBRERO-VUELTIAO", quantity: 0 },
  { name: "Camiseta de algodón", type: "PRODUCT", price: "45000", sku: "CAMISETA-ALGODON", quantity: 12 },
  { name: "Taza de cerámica", type: "PRODUCT", price: "18000", sku: "TAZA-CERAMICA", quantity: 3 },
  { name: "Envío a domicilio", type: "SERVICE", price: "10000" },
];

/** Slugs tried in turn when the demo store already exists: ejemplar, ejemplar-2 ... ejemplar-20. */
const MAX_DEMO_STORES = 20;

export type DemoStore = { id: string; slug: string; name: string; adminToken: string };

/**
 * Creates the demo store under the first free slug of `ejemplar`, `ejemplar-2`..., with its items.
 * Returns null when all of them are taken.
 */
export async function createDemoStore(deps: Pick<Deps, "db" | "publisher">): Promise<DemoStore | null> {
  for (let n = 1; n <= MAX_DEMO_STORES; n++) {
    const slug = n === 1 ? DEMO_STORE.slug : `${DEMO_STORE.slug}-${n}`;
    const store = await createStore(deps.db.prisma, { slug, name: DEMO_STORE.name });
    if (store instanceof OperationError) {
      if (store.field === "slug") continue; // taken: try the next one
      throw new Error(`could not create the demo store: ${store.message}`);
    }
    for (const item of DEMO_ITEMS) {
      const created = await createItem(deps, store.id, item);
      if (created instanceof OperationError) throw new Error(`could not create "${item.name}": ${created.message}`);
    }
    return store;
  }
  return null;
}
