/** "Productos": the store's items with their counts and badge, searchable, a page at a time, live. */
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { useQuery } from "@urql/preact";
import { ITEMS, errorOf, type ItemRow, type ItemsData } from "../api.ts";
import { formatCount, variantLabel } from "../labels.ts";
import { useLiveRefresh } from "../live.ts";
import { ExportButton } from "./inventory-import.tsx";
import { Badge, LowStockBadge, ErrorMessage, Loading, PagerNav, usePager, Title } from "../ui.tsx";

const PAGE_SIZE = 20;

export function Products() {
  const [typed, setTyped] = useState("");
  const [search, setSearch] = useState<string | null>(null);
  const pager = usePager();
  const [result, reexecute] = useQuery<ItemsData>({ query: ITEMS, variables: { first: PAGE_SIZE, after: pager.after, search } });
  const items = result.data?.items.edges.map((edge) => edge.node) ?? [];
  useLiveRefresh(
    (itemId) => items.find((item) => item.id === itemId)?.version,
    () => reexecute({ requestPolicy: "network-only" }),
  );
  const error = errorOf(result);

  return (
    <section>
      <div class="screen-head">
        <Title>Productos</Title>
        <div class="actions">
          <ExportButton />
          <a class="button button-secondary" href="#/productos/importar">Importar</a>
          <a class="button" href="#/productos/nuevo">Nuevo producto</a>
        </div>
      </div>
      <form
        class="search"
        role="search"
        onSubmit={(event) => {
          event.preventDefault();
          setSearch(typed.trim() || null);
          pager.reset();
        }}
      >
        <label for="search">Buscar por nombre o SKU</label>
        <input id="search" type="search" value={typed} onInput={(e) => setTyped(e.currentTarget.value)} />
        <button type="submit">Buscar</button>
      </form>
      {error && <ErrorMessage class="form-error" error={error} />}
      {result.fetching && !result.data ? (
        <Loading />
      ) : items.length === 0 ? (
        <p class="empty">{search ? `Ningún producto coincide con «${search}».` : "Aún no hay productos."}</p>
      ) : (
        <table class="items">
          <thead>
            <tr>
              <th scope="col">Producto</th>
              <th scope="col">SKU</th>
              <th scope="col" class="number">Cantidad</th>
              <th scope="col" class="number">Comprometida</th>
              <th scope="col" class="number">Reservada</th>
              <th scope="col" class="number">Disponible</th>
              <th scope="col">Estado</th>
            </tr>
          </thead>
          <tbody>
            {items.map((item) => (
              <Fragment key={item.id}>
                <tr data-item-id={item.id}>
                  <td>
                    <a href={`#/productos/${item.id}`} class="item-name">{item.name}</a>
                    {item.type === "SERVICE" && <small class="tag">Servicio</small>}
                  </td>
                  <td>{item.sku ?? "—"}</td>
                  <Counts counts={item} tracked={item.trackInventory} low={item.lowStock} />
                </tr>
                {item.options.length > 0 &&
                  item.variants.map((variant) => (
                    <tr key={variant.id} class="variant-row" data-variant-id={variant.id}>
                      <td>{variantLabel(variant.options)}</td>
                      <td>{variant.sku ?? "—"}</td>
                      <Counts counts={variant} tracked={item.trackInventory} low={variant.lowStock} />
                    </tr>
                  ))}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      <PagerNav pager={pager} pageInfo={result.data?.items.pageInfo} label="Páginas de productos" />
    </section>
  );
}

/**
 * An item's or a variant's counts over the warehouses that fulfil online orders (Reservada: held
 * in shoppers' carts, see Reservas), its badge, and "Stock bajo" when low.
 */
function Counts({ counts, tracked, low }: {
  counts: Pick<ItemRow, "quantity" | "committedQuantity" | "reservedQuantity" | "availableQuantity" | "availability">; tracked: boolean; low: boolean;
}) {
  return (
    <>
      <td class="number quantity">{formatCount(counts.quantity)}</td>
      <td class="number committed">{tracked ? counts.committedQuantity : "—"}</td>
      <td class="number reserved">{tracked ? counts.reservedQuantity : "—"}</td>
      <td class="number available">{formatCount(counts.availableQuantity)}</td>
      <td class="state"><Badge availability={counts.availability} /> <LowStockBadge low={low} /></td>
    </>
  );
}
