/**
 * An order: its lines, "Estado del pedido" with only the states it may move to, "Cambiar estado"
 * (to "Anulado" gives its units back), and "Facturar" while accounting sync is on.
 */
import { useState } from "preact/hooks";
import { useMutation, useQuery } from "@urql/preact";
import { CHANGE_STATUS, INVOICE_ORDER, ORDER, errorOf, type ApiError, type OrderData, type OrderDetail, type OrderStatus } from "../api.ts";
import { formatDate, formatMoney, ORDER_STATUS, variantLabel } from "../labels.ts";
import { Button, describedBy, ErrorMessage, Field, FormError, Loading, Notice, Title } from "../ui.tsx";

/** The states an order may move to (SPEC section 2); an invoiced order is voided in accounting, not here. */
function nextStates(order: OrderDetail): OrderStatus[] {
  const next: Record<OrderStatus, OrderStatus[]> = {
    PENDING: ["CONFIRMED", "CANCELLED"],
    CONFIRMED: ["SHIPPED", "CANCELLED"],
    SHIPPED: ["DELIVERED", "CANCELLED"],
    DELIVERED: [],
    CANCELLED: [],
  };
  return next[order.status].filter((status) => !(status === "CANCELLED" && order.invoice));
}

export function OrderScreen({ id, accountingSync }: { id: string; accountingSync: boolean }) {
  const [result] = useQuery<OrderData>({ query: ORDER, variables: { id } });
  const order = result.data?.order;
  const error = errorOf(result);
  if (error) return <ErrorMessage class="form-error" error={error} />;
  if (!order) {
    return result.fetching ? <Loading /> : (
      <section>
        <Title>Pedido no encontrado</Title>
        <p><a href="#/pedidos">Volver a Pedidos</a></p>
      </section>
    );
  }
  return (
    <section data-order-id={order.id}>
      <p class="breadcrumb"><a href="#/pedidos">Pedidos</a></p>
      <div class="screen-head">
        <Title>Pedido n.º {order.number}</Title>
        <span class={`status status-${order.status.toLowerCase()}`}>{ORDER_STATUS[order.status]}</span>
      </div>
      <dl class="facts">
        <dt>Fecha</dt><dd>{formatDate(order.createdAt)}</dd>
        <dt>Total</dt><dd>{formatMoney(order.total)}</dd>
        <dt>Factura</dt>
        <dd class="invoice">{order.invoice ? `${order.invoice.number ?? order.invoice.accountingId} · ${formatDate(order.invoice.issuedAt)}` : "Sin factura"}</dd>
      </dl>
      <table class="lines">
        <thead>
          <tr>
            <th scope="col">Producto</th>
            <th scope="col">SKU</th>
            <th scope="col" class="number">Cantidad</th>
            <th scope="col" class="number">Precio unitario</th>
            <th scope="col">Tomado de</th>
          </tr>
        </thead>
        <tbody>
          {order.lines.map((line, index) => (
            <tr key={index}>
              <td>
                <a href={`#/productos/${line.item.id}`}>{line.item.name}</a>
                {line.variant.options.length > 0 && <small class="tag">{variantLabel(line.variant.options)}</small>}
              </td>
              <td>{line.variant.sku ?? "—"}</td>
              <td class="number">{line.quantity}</td>
              <td class="number">{formatMoney(line.unitPrice)}</td>
              <td class="allocations">
                {line.allocations.length === 0 ? "—" : line.allocations.map((a) => `${a.warehouse.name}: ${a.quantity}`).join(", ")}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <StatusForm key={order.status} order={order} />
      {accountingSync && !order.invoice && order.status !== "CANCELLED" && <InvoiceButton order={order} />}
    </section>
  );
}

function StatusForm({ order }: { order: OrderDetail }) {
  const [state, changeStatus] = useMutation(CHANGE_STATUS);
  const choices = nextStates(order);
  const [status, setStatus] = useState<OrderStatus | "">("");
  const [error, setError] = useState<ApiError | null>(null);
  if (choices.length === 0) {
    return <p class="hint">Estado final: {order.status === "CANCELLED" ? "el pedido está anulado." : "el pedido fue entregado."}</p>;
  }

  async function submit(event: Event) {
    event.preventDefault();
    if (!status) return;
    const outcome = await changeStatus({ input: { orderId: order.id, status } });
    setError(errorOf(outcome, outcome.data?.changeOrderStatus));
  }

  return (
    <form class="panel" onSubmit={submit}>
      <Field id="order-status" label="Estado del pedido" error={error?.field === "status" ? error : null}
        hint={order.invoice ? "Un pedido facturado se anula anulando su factura en Alegra Contabilidad." : undefined}>
        <select {...describedBy("order-status", error?.field === "status" ? error : null)} required value={status}
          onChange={(e) => setStatus(e.currentTarget.value as OrderStatus)}>
          <option value="" disabled>{ORDER_STATUS[order.status]} (actual)</option>
          {choices.map((choice) => <option key={choice} value={choice}>{ORDER_STATUS[choice]}</option>)}
        </select>
      </Field>
      {status === "CANCELLED" && <p class="hint">Al anularlo, las unidades del pedido vuelven al inventario.</p>}
      <FormError error={error} fields={["status"]} />
      <Button busy={state.fetching}>Cambiar estado</Button>
    </form>
  );
}

/** Why an order cannot be invoiced, in the merchant's words (the service names the order as the field at fault). */
const INVOICE_REFUSED = {
  INVALID_INPUT:
    "Alguna línea del pedido no está enlazada con Alegra Contabilidad (un producto sin el SKU de su ítem en Alegra, o una bodega que no es de Alegra): sincroniza el inventario y vuelve a intentarlo.",
  INVALID_STATUS_TRANSITION: "Este pedido ya tiene factura o está anulado: no se puede facturar.",
};

function InvoiceButton({ order }: { order: OrderDetail }) {
  const [state, invoiceOrder] = useMutation(INVOICE_ORDER);
  const [error, setError] = useState<ApiError | null>(null);
  const [done, setDone] = useState(false);
  async function submit(event: Event) {
    event.preventDefault();
    const outcome = await invoiceOrder({ orderId: order.id });
    const failure = errorOf(outcome, outcome.data?.invoiceOrder);
    setError(failure);
    setDone(!failure);
  }
  return (
    <form class="panel" onSubmit={submit}>
      <h2>Factura de venta</h2>
      <p class="hint">Emite la factura en Alegra Contabilidad: sus unidades se descuentan del inventario.</p>
      <FormError error={error} says={INVOICE_REFUSED} />
      <Button busy={state.fetching} busyLabel="Facturando…">Facturar</Button>
      {done && <Notice>Factura emitida.</Notice>}
    </form>
  );
}
