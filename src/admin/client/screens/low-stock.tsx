/**
 * "Stock bajo": the variants at or below their low-stock threshold now, lowest available first,
 * and the latest alerts, both live: a new alert or a change of a listed item's stock re-reads them.
 */
import { useQuery } from "@urql/preact";
import { LOW_STOCK_ALERTS, LOW_STOCK_VARIANTS, errorOf, type LowStockAlertsData, type LowStockVariantsData } from "../api.ts";
import { formatCount, formatDate, variantLabel } from "../labels.ts";
import { useLiveRefresh, useLowStockAlerts } from "../live.ts";
import { ErrorMessage, Loading, PagerNav, Title, usePager } from "../ui.tsx";

const PAGE_SIZE = 50;

export function LowStock({ storeThreshold }: { storeThreshold: number | null | undefined }) {
  const pager = usePager();
  const [result, reexecute] = useQuery<LowStockVariantsData>({ query: LOW_STOCK_VARIANTS, variables: { first: PAGE_SIZE, after: pager.after } });
  const [alerts, reexecuteAlerts] = useQuery<LowStockAlertsData>({ query: LOW_STOCK_ALERTS, variables: { first: 10 } });
  const variants = result.data?.lowStockVariants.edges.map((edge) => edge.node) ?? [];
  const refresh = () => {
    reexecute({ requestPolicy: "network-only" });
    reexecuteAlerts({ requestPolicy: "network-only" });
  };
  useLiveRefresh((itemId) => variants.find((variant) => variant.item.id === itemId)?.item.version, refresh);
  useLowStockAlerts(refresh);
  const error = errorOf(result);
  return (
    <section class="low-stock">
      <Title>Stock bajo</Title>
      <p class="hint">
        {storeThreshold == null
          ? "La tienda no tiene un umbral de stock bajo: solo avisan las variantes con umbral propio. Fíjalo en Configuración -> Inventario."
          : `Umbral de la tienda: ${storeThreshold} unidades disponibles (cada variante puede tener el suyo, en su producto).`}
      </p>
      {error && <ErrorMessage class="form-error" error={error} />}
      {result.fetching && !result.data ? (
        <Loading />
      ) : variants.length === 0 ? (
        <p class="empty">Ningún producto tiene stock bajo.</p>
      ) : (
        <table class="low-stock-variants">
          <thead>
            <tr>
              <th scope="col">Producto</th>
              <th scope="col">SKU</th>
              <th scope="col" class="number">Disponible</th>
              <th scope="col" class="number">Umbral</th>
            </tr>
          </thead>
          <tbody>
            {variants.map((variant) => (
              <tr key={variant.id} data-variant-id={variant.id}>
                <td>
                  <a href={`#/productos/${variant.item.id}`} class="item-name">{variant.item.name}</a>
                  {variant.options.length > 0 && <small class="tag">{variantLabel(variant.options)}</small>}
                </td>
                <td>{variant.sku ?? "—"}</td>
                <td class="number available">{formatCount(variant.availableQuantity)}</td>
                <td class="number">{variant.lowStockThreshold ?? storeThreshold ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <PagerNav pager={pager} pageInfo={result.data?.lowStockVariants.pageInfo} label="Páginas de stock bajo" />
      <section class="panel" aria-labelledby="alerts-title">
        <h2 id="alerts-title">Últimas alertas</h2>
        {!alerts.data ? (
          <Loading />
        ) : alerts.data.lowStockAlerts.edges.length === 0 ? (
          <p class="empty">Aún no hay alertas.</p>
        ) : (
          <ul class="alerts">
            {alerts.data.lowStockAlerts.edges.map(({ node: alert }) => (
              <li key={alert.id} data-alert-id={alert.id}>
                <strong>{formatDate(alert.at)}</strong> · <a href={`#/productos/${alert.item.id}`}>{alert.item.name}</a>
                {alert.variant.options.length > 0 && ` (${variantLabel(alert.variant.options)})`}: quedaban {alert.availableQuantity} (umbral{" "}
                {alert.threshold})
              </li>
            ))}
          </ul>
        )}
      </section>
    </section>
  );
}
