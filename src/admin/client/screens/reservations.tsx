/**
 * "Reservas": the carts held for shoppers right now (SPEC section 9), newest first, each with what
 * it keeps and the time it has left, and "Liberar" to give its units back at once (a shopper who
 * will not come back, a hold in the way of a phone order). Live: a hold made, ended or expired
 * changes stock, and its StockUpdate re-reads the list; the countdown runs on the merchant's clock.
 */
import { useEffect, useState } from "preact/hooks";
import { useMutation, useQuery } from "@urql/preact";
import { RELEASE_RESERVATION, RESERVATIONS, errorOf, type ApiError, type ReleaseData, type Reservation, type ReservationsData } from "../api.ts";
import { formatDate, formatTimeLeft, RESERVATION_STATUS, variantLabel } from "../labels.ts";
import { useLiveRefresh } from "../live.ts";
import { Button, ErrorMessage, Loading, Notice, PagerNav, Title, usePager } from "../ui.tsx";

// a hold has up to 100 lines: a page of 20 stays well inside the query cost limit (50 would not)
const PAGE_SIZE = 20;

/** The time now, once a second while the screen is shown: the countdowns move, and holds past their time leave. */
function useNow(): number {
  const [now, setNow] = useState(Date.now);
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

/** "Taza de cerámica × 2", "Camiseta (Talla: M) × 1". */
function lineLabel(line: Reservation["lines"][number]): string {
  const variant = line.variant.options.length ? ` (${variantLabel(line.variant.options)})` : "";
  return `${line.item.name}${variant} × ${line.quantity}`;
}

export function Reservations() {
  const pager = usePager();
  const [result, reexecute] = useQuery<ReservationsData>({ query: RESERVATIONS, variables: { first: PAGE_SIZE, after: pager.after } });
  const [, release] = useMutation<ReleaseData>(RELEASE_RESERVATION);
  const [releasing, setReleasing] = useState<string | null>(null);
  const [failure, setFailure] = useState<ApiError | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const now = useNow();
  // any stock update may be a hold made or ended: every one is news to this list
  useLiveRefresh(() => Number.NEGATIVE_INFINITY, () => reexecute({ requestPolicy: "network-only" }));
  // HELD past its time: expired, whether or not the service's sweep has got to it yet
  const holds = (result.data?.reservations.edges.map((edge) => edge.node) ?? []).filter((hold) => Date.parse(hold.expiresAt) > now);
  const error = errorOf(result);

  async function liberar(hold: Reservation) {
    setFailure(null);
    setOutcome(null);
    setReleasing(hold.id);
    const answer = await release({ id: hold.id });
    setReleasing(null);
    const released = answer.data?.releaseReservationAsAdmin;
    const refused = errorOf(answer, released);
    if (refused) return setFailure(refused);
    const what = hold.lines.map(lineLabel).join(", ");
    setOutcome(
      released?.__typename === "Reservation" && released.status !== "RELEASED"
        ? `Esa reserva ya había terminado: ${RESERVATION_STATUS[released.status]}.`
        : `Reserva liberada: ${what} vuelve a estar disponible.`,
    );
    reexecute({ requestPolicy: "network-only" });
  }

  return (
    <section class="reservations">
      <Title>Reservas</Title>
      <p class="hint">
        Las unidades que tus clientes tienen en el carrito mientras confirman su pedido. Nadie más puede comprarlas hasta que la reserva
        termine: al confirmar el pedido, al vaciar o dejar el carrito, al vencer su tiempo, o si la liberas aquí.
      </p>
      {error && <ErrorMessage class="form-error" error={error} />}
      {failure && <ErrorMessage class="form-error" error={failure} />}
      {outcome && <Notice>{outcome}</Notice>}
      {result.fetching && !result.data ? (
        <Loading />
      ) : holds.length === 0 ? (
        <p class="empty">No hay reservas activas.</p>
      ) : (
        <table class="holds">
          <thead>
            <tr>
              <th scope="col">Reservada</th>
              <th scope="col">Productos</th>
              <th scope="col" class="number">Vence en</th>
              <th scope="col"><span class="visually-hidden">Acciones</span></th>
            </tr>
          </thead>
          <tbody>
            {holds.map((hold) => (
              <tr key={hold.id} data-reservation-id={hold.id}>
                <td>{formatDate(hold.createdAt)}</td>
                <td>
                  <ul class="hold-lines">
                    {hold.lines.map((line) => (
                      <li key={line.variant.id}>
                        <a href={`#/productos/${line.item.id}`}>{lineLabel(line)}</a>
                      </li>
                    ))}
                  </ul>
                </td>
                <td class="number time-left">{formatTimeLeft(Date.parse(hold.expiresAt) - now)}</td>
                <td>
                  <Button type="button" busy={releasing === hold.id} busyLabel="Liberando…" onClick={() => void liberar(hold)}>
                    Liberar
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <PagerNav pager={pager} pageInfo={result.data?.reservations.pageInfo} label="Páginas de reservas" />
    </section>
  );
}
