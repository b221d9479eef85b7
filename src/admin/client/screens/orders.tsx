/** "Pedidos": the store's orders, newest first, by status, a page at a time. */
import { useState } from "preact/hooks";
import { useQuery } from "@urql/preact";
import { ORDERS, errorOf, type OrderStatus, type OrdersData } from "../api.ts";
import { formatDate, formatMoney, ORDER_STATUS } from "../labels.ts";
import { ErrorMessage, Loading, PagerNav, usePager, Title } from "../ui.tsx";

const PAGE_SIZE = 20;

export function Orders() {
  const [status, setStatus] = useState<OrderStatus | "">("");
  const pager = usePager();
  const [result] = useQuery<OrdersData>({ query: ORDERS, variables: { first: PAGE_SIZE, after: pager.after, status: status || null } });
  const orders = result.data?.orders.edges.map((edge) => edge.node) ?? [];
  const error = errorOf(result);
  return (
    <section>
      <Title>Pedidos</Title>
      <div class="filters">
        <label for="status-filter">Estado</label>
        <select
          id="status-filter"
          value={status}
          onChange={(e) => {
            setStatus(e.currentTarget.value as OrderStatus | "");
            pager.reset();
          }}
        >
          <option value="">Todos</option>
          {Object.entries(ORDER_STATUS).map(([value, label]) => (
            <option key={value} value={value}>{label}</option>
          ))}
        </select>
      </div>
      {error && <ErrorMessage class="form-error" error={error} />}
      {result.fetching && !result.data ? (
        <Loading />
      ) : orders.length === 0 ? (
        <p class="empty">No hay pedidos{status ? ` en estado «${ORDER_STATUS[status]}»` : ""}.</p>
      ) : (
        <table class="orders">
          <thead>
            <tr>
              <th scope="col">Pedido</th>
              <th scope="col">Fecha</th>
              <th scope="col">Estado</th>
              <th scope="col" class="number">Total</th>
              <th scope="col">Factura</th>
            </tr>
          </thead>
          <tbody>
            {orders.map((order) => (
              <tr key={order.id} data-order-id={order.id}>
                <td><a href={`#/pedidos/${order.id}`}>Pedido n.º {order.number}</a></td>
                <td>{formatDate(order.createdAt)}</td>
                <td><span class={`status status-${order.status.toLowerCase()}`}>{ORDER_STATUS[order.status]}</span></td>
                <td class="number">{formatMoney(order.total)}</td>
                <td>{order.invoice ? (order.invoice.number ?? "Emitida") : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <PagerNav pager={pager} pageInfo={result.data?.orders.pageInfo} label="Páginas de pedidos" />
    </section>
  );
}
