/**
 * An item: its "Inventario" section (the help article's steps: "Registrar cantidad disponible",
 * "Vender sin Stock", "Guardar"), an adjustment by a number of units, and its movement history.
 * A count is written as a compare-and-set against the count the merchant saw when they began
 * typing: when it moved meanwhile, the new count is shown and the merchant is asked again.
 */
import { useEffect, useState } from "preact/hooks";
import { useClient, useMutation, useQuery } from "@urql/preact";
import {
  ADJUST_QUANTITY, ITEM, MOVEMENTS, SET_QUANTITY, UPDATE_ITEM, errorOf,
  type ApiError, type ItemData, type ItemDetail, type ItemResult, type MovementsData,
} from "../api.ts";
import { errorText, formatCount, formatDate, formatMoney, MOVEMENT_REASON } from "../labels.ts";
import { useLiveRefresh } from "../live.ts";
import { Badge, Button, describedBy, errorFor, Field, FormError, Loading, Notice, PagerNav, usePager, Title } from "../ui.tsx";

/** One count the merchant can write: a variant's stock in one warehouse. */
type Level = { key: string; warehouse: string; quantity: number | null; committed: number; available: number | null };

function levelsOf(item: ItemDetail): Level[] {
  return [
    {
      key: "main",
      warehouse: item.warehouse?.name ?? "Bodega principal",
      quantity: item.quantity,
      committed: item.committedQuantity,
      available: item.availableQuantity,
    },
  ];
}

export function ItemScreen({ id, accountingSync }: { id: string; accountingSync: boolean }) {
  const [result, reexecute] = useQuery<ItemData>({ query: ITEM, variables: { id } });
  const item = result.data?.item;
  useLiveRefresh(
    (itemId) => (itemId === id ? item?.version : undefined),
    () => reexecute({ requestPolicy: "network-only" }),
  );
  const error = errorOf(result);
  if (error) return <p class="form-error" role="alert">{errorText(error)}</p>;
  if (!item) {
    return result.fetching ? <Loading /> : (
      <section>
        <Title>Producto no encontrado</Title>
        <p><a href="#/productos">Volver a Productos</a></p>
      </section>
    );
  }
  const levels = levelsOf(item);
  return (
    <section class="item-screen" data-item-id={item.id}>
      <p class="breadcrumb"><a href="#/productos">Productos</a></p>
      <div class="screen-head">
        <Title class="item-name">{item.name}</Title>
        <Badge availability={item.availability} />
      </div>
      <dl class="facts">
        <dt>SKU</dt><dd>{item.sku ?? "—"}</dd>
        <dt>Precio</dt><dd>{formatMoney(item.price)}</dd>
        <dt>Tipo</dt><dd>{item.type === "SERVICE" ? "Servicio" : "Producto"}</dd>
        <dt>Disponible</dt><dd class="available">{formatCount(item.availableQuantity)}</dd>
      </dl>
      {item.type === "SERVICE" ? (
        <p class="hint">Los servicios no llevan inventario: siempre están disponibles.</p>
      ) : (
        <>
          <InventoryForm key={item.id} item={item} levels={levels} accountingSync={accountingSync} />
          {item.trackInventory && <AdjustForm item={item} levels={levels} accountingSync={accountingSync} />}
        </>
      )}
      <Movements id={item.id} version={item.version} />
    </section>
  );
}

type Edit = { value: string; seen: number | null };

function InventoryForm({ item, levels, accountingSync }: { item: ItemDetail; levels: Level[]; accountingSync: boolean }) {
  const client = useClient();
  const [, updateItem] = useMutation<{ updateItem: ItemResult }>(UPDATE_ITEM);
  const [, setQuantity] = useMutation<{ setItemQuantity: ItemResult }>(SET_QUANTITY);
  const [track, setTrack] = useState(item.trackInventory);
  const [sellWithoutStock, setSellWithoutStock] = useState(item.sellWithoutStock);
  const [edits, setEdits] = useState<Record<string, Edit>>({});
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ error: ApiError; level?: string } | null>(null);
  const [stale, setStale] = useState<{ level: string; now: number | null } | null>(null);
  const [saved, setSaved] = useState(false);

  function type(level: Level, value: string) {
    setSaved(false);
    const seen = edits[level.key]?.seen ?? level.quantity;
    const rest = { ...edits };
    delete rest[level.key];
    setEdits(value === "" ? rest : { ...rest, [level.key]: { value, seen } });
  }

  async function save(event: Event) {
    event.preventDefault();
    setBusy(true);
    setFailure(null);
    setStale(null);
    setSaved(false);
    try {
      if (track !== item.trackInventory || sellWithoutStock !== item.sellWithoutStock) {
        const outcome = await updateItem({ input: { id: item.id, trackInventory: track, sellWithoutStock } });
        const error = errorOf(outcome, outcome.data?.updateItem);
        if (error) return setFailure({ error });
      }
      let remaining = { ...edits };
      for (const level of levels) {
        const edit = remaining[level.key];
        if (!edit || !track) continue;
        const outcome = await setQuantity({
          input: { itemId: item.id, quantity: Number(edit.value), expectedQuantity: edit.seen ?? undefined, note: note.trim() || undefined },
        });
        const error = errorOf(outcome, outcome.data?.setItemQuantity);
        if (error?.code === "STALE_QUANTITY") {
          // Someone (an order, another tab) changed it: show the count now and let the merchant decide.
          const fresh = await client.query<ItemData>(ITEM, { id: item.id }, { requestPolicy: "network-only" }).toPromise();
          const now = fresh.data?.item ? (levelsOf(fresh.data.item).find((l) => l.key === level.key)?.quantity ?? null) : null;
          setEdits({ ...remaining, [level.key]: { value: edit.value, seen: now } });
          return setStale({ level: level.key, now });
        }
        if (error) {
          setEdits(remaining);
          return setFailure({ error, level: level.key });
        }
        const { [level.key]: _done, ...rest } = remaining;
        remaining = rest;
      }
      setEdits({});
      setNote("");
      setSaved(true);
    } finally {
      setBusy(false);
    }
  }

  const countsLocked = accountingSync;
  const levelError = (level: Level) => (failure?.level === level.key ? failure.error : null);
  return (
    <form class="panel" onSubmit={save} aria-labelledby="inventory-title">
      <h2 id="inventory-title">Inventario</h2>
      <label class="check">
        <input type="checkbox" checked={track} onChange={(e) => setTrack(e.currentTarget.checked)} />
        Registrar cantidad disponible
      </label>
      <label class="check">
        <input type="checkbox" checked={sellWithoutStock} onChange={(e) => setSellWithoutStock(e.currentTarget.checked)} />
        Vender sin Stock
      </label>
      <p class="hint">
        Con «Vender sin Stock» tus clientes pueden seguir comprando sin unidades disponibles: la cantidad queda en negativo.
      </p>
      {accountingSync && <p class="hint">La sincronización con Alegra Contabilidad está activa: las cantidades se gestionan desde allí.</p>}
      {track && (
        <table class="levels">
          <thead>
            <tr>
              <th scope="col">Bodega</th>
              <th scope="col" class="number">Cantidad</th>
              <th scope="col" class="number">Comprometida</th>
              <th scope="col" class="number">Disponible</th>
              <th scope="col">Cantidad disponible</th>
            </tr>
          </thead>
          <tbody>
            {levels.map((level) => {
              const id = `count-${level.key}`;
              const error = levelError(level);
              return (
                <tr key={level.key} data-level={level.key}>
                  <td>{level.warehouse}</td>
                  <td class="number quantity">{formatCount(level.quantity)}</td>
                  <td class="number">{level.committed}</td>
                  <td class="number">{formatCount(level.available)}</td>
                  <td>
                    <input
                      {...describedBy(id, error)}
                      type="number"
                      step={1}
                      aria-label={`Cantidad disponible en ${level.warehouse}`}
                      placeholder={formatCount(level.quantity)}
                      disabled={countsLocked}
                      value={edits[level.key]?.value ?? ""}
                      onInput={(e) => type(level, e.currentTarget.value)}
                    />
                    {error && <p id={`${id}-error`} class="field-error" role="alert">{errorText(error)}</p>}
                    {stale?.level === level.key && (
                      <p class="field-error stale" role="alert">
                        Mientras editabas, la cantidad cambió a {formatCount(stale.now)}. Revisa la nueva cantidad y pulsa «Guardar» otra vez
                        para registrar {edits[level.key]?.value}.
                      </p>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {track && (
        <Field id="inventory-note" label="Nota (opcional)" error={errorFor(failure?.error ?? null, "note")}>
          <input {...describedBy("inventory-note", errorFor(failure?.error ?? null, "note"))} value={note} maxLength={500}
            onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
      )}
      {failure && !failure.level && <FormError error={failure.error} fields={["note"]} />}
      <Button busy={busy}>Guardar</Button>
      {saved && <Notice>Cambios guardados.</Notice>}
    </form>
  );
}

function AdjustForm({ item, levels, accountingSync }: { item: ItemDetail; levels: Level[]; accountingSync: boolean }) {
  const [state, adjust] = useMutation<{ adjustItemQuantity: ItemResult }>(ADJUST_QUANTITY);
  const [level, setLevel] = useState(levels[0]!.key);
  const [delta, setDelta] = useState("");
  const [note, setNote] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setSaved(null);
    const outcome = await adjust({ input: { itemId: item.id, delta: Number(delta), note: note.trim() || undefined } });
    const failure = errorOf(outcome, outcome.data?.adjustItemQuantity);
    setError(failure);
    if (failure) return;
    setSaved(`Ajuste de ${Number(delta) > 0 ? "+" : ""}${delta} guardado.`);
    setDelta("");
    setNote("");
  }

  return (
    <form class="panel" onSubmit={submit} aria-labelledby="adjust-title">
      <h2 id="adjust-title">Ajustar cantidad</h2>
      <div class="row">
        {levels.length > 1 && (
          <Field id="adjust-level" label="Bodega" error={null}>
            <select id="adjust-level" value={level} onChange={(e) => setLevel(e.currentTarget.value)}>
              {levels.map((l) => <option key={l.key} value={l.key}>{l.warehouse}</option>)}
            </select>
          </Field>
        )}
        <Field id="adjust-delta" label="Unidades (+ entran, − salen)" error={errorFor(error, "delta") ?? errorFor(error, "quantity")}>
          <input {...describedBy("adjust-delta", errorFor(error, "delta") ?? errorFor(error, "quantity"))} type="number" step={1} required
            disabled={accountingSync} value={delta} onInput={(e) => setDelta(e.currentTarget.value)} />
        </Field>
        <Field id="adjust-note" label="Nota (opcional)" error={errorFor(error, "note")}>
          <input {...describedBy("adjust-note", errorFor(error, "note"))} value={note} maxLength={500} onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
      </div>
      <FormError error={error} fields={["delta", "quantity", "note"]} />
      <Button busy={state.fetching} disabled={accountingSync}>Ajustar</Button>
      {saved && <Notice>{saved}</Notice>}
    </form>
  );
}

const MOVEMENTS_PAGE = 10;

/** Who changed the count, why and when: newest first, a page at a time. */
function Movements({ id, version }: { id: string; version: number }) {
  const pager = usePager();
  const [result, reexecute] = useQuery<MovementsData>({ query: MOVEMENTS, variables: { id, first: MOVEMENTS_PAGE, after: pager.after } });
  useEffect(() => {
    if (result.data) reexecute({ requestPolicy: "network-only" });
  }, [version]);
  const movements = result.data?.item?.stockMovements.edges.map((edge) => edge.node) ?? [];
  return (
    <section class="panel" aria-labelledby="movements-title">
      <h2 id="movements-title">Movimientos</h2>
      {result.fetching && !result.data ? (
        <Loading />
      ) : movements.length === 0 ? (
        <p class="empty">Aún no hay movimientos.</p>
      ) : (
        <table class="movements">
          <thead>
            <tr>
              <th scope="col">Fecha</th>
              <th scope="col">Motivo</th>
              <th scope="col">Quién</th>
              <th scope="col" class="number">Cambio</th>
              <th scope="col" class="number">Cantidad después</th>
              <th scope="col">Nota</th>
            </tr>
          </thead>
          <tbody>
            {movements.map((movement) => {
              const reason = MOVEMENT_REASON[movement.reason] ?? { why: movement.reason, who: "—" };
              return (
                <tr key={movement.id}>
                  <td>{formatDate(movement.createdAt)}</td>
                  <td>
                    {reason.why}
                    {movement.orderId && <> · <a href={`#/pedidos/${movement.orderId}`}>ver pedido</a></>}
                  </td>
                  <td>{reason.who}</td>
                  <td class="number">{movement.delta > 0 ? `+${movement.delta}` : movement.delta}</td>
                  <td class="number">{movement.quantityAfter}</td>
                  <td>{movement.note ?? ""}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      <PagerNav pager={pager} pageInfo={result.data?.item?.stockMovements.pageInfo} label="Páginas de movimientos" />
    </section>
  );
}
