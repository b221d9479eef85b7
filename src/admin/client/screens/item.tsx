/**
 * An item: its "Inventario" section (the help article's steps: "Registrar cantidad disponible",
 * "Vender sin Stock", "Guardar") with a count per variant and warehouse, an adjustment by a number
 * of units, a transfer between warehouses, and its movement history. A count is written as a
 * compare-and-set against the count the merchant saw when they began typing: when it moved
 * meanwhile, the new count is shown and the merchant is asked again.
 */
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useClient, useMutation, useQuery } from "@urql/preact";
import {
  ADJUST_QUANTITY, ITEM, MOVEMENTS, SET_QUANTITY, TRANSFER_STOCK, UPDATE_ITEM, UPDATE_VARIANT, errorOf,
  type ApiError, type ItemData, type ItemDetail, type ItemResult, type MovementsData, type TransferResult, type VariantResult,
} from "../api.ts";
import { formatCount, formatDate, formatMoney, MOVEMENT_REASON, movementNote, variantLabel } from "../labels.ts";
import { belowZero, problem, tooManyOut, type Says } from "../messages.ts";
import { useLiveRefresh } from "../live.ts";
import { Badge, Button, describedBy, LowStockBadge, ErrorMessage, errorFor, Field, FormError, Loading, Notice, PagerNav, Title, usePager } from "../ui.tsx";

/** One count the merchant can write: a variant's stock in one warehouse. */
type Level = {
  key: string; variantId: string; warehouseId: string; variant: string; warehouse: string; fulfils: boolean;
  quantity: number; committed: number; reserved: number; available: number;
};

function levelsOf(item: ItemDetail): Level[] {
  return item.variants.flatMap((variant) =>
    variant.stockLevels.map((level) => ({
      key: `${variant.id}:${level.warehouse.id}`,
      variantId: variant.id,
      warehouseId: level.warehouse.id,
      variant: variantLabel(variant.options),
      warehouse: level.warehouse.name,
      fulfils: level.warehouse.fulfilsOnlineOrders,
      quantity: level.quantity,
      committed: level.committedQuantity,
      reserved: level.reservedQuantity,
      available: level.availableQuantity,
    })),
  );
}

/** "Talla: M en Principal", or just the warehouse for an item without options. */
const levelName = (level: Level) => (level.variant ? `${level.variant} en ${level.warehouse}` : level.warehouse);
/** "cantidad de Talla: M en Principal", or "cantidad en Principal" for an item without options: a count that was saved. */
const countName = (level: Level) => `cantidad ${level.variant ? `de ${level.variant} en` : "en"} ${level.warehouse}`;

export function ItemScreen({ id, accountingSync, storeThreshold }: { id: string; accountingSync: boolean; storeThreshold: number | null }) {
  const [result, reexecute] = useQuery<ItemData>({ query: ITEM, variables: { id } });
  const item = result.data?.item;
  useLiveRefresh(
    (itemId) => (itemId === id ? item?.version : undefined),
    () => reexecute({ requestPolicy: "network-only" }),
  );
  const error = errorOf(result);
  if (error) return <ErrorMessage class="form-error" error={error} />;
  if (!item) {
    return result.fetching ? <Loading /> : (
      <section>
        <Title>Producto no encontrado</Title>
        <p><a href="#/productos">Volver a Productos</a></p>
      </section>
    );
  }
  const levels = levelsOf(item);
  const warehouses = item.variants[0]?.stockLevels.map((level) => level.warehouse) ?? [];
  return (
    <section class="item-screen" data-item-id={item.id}>
      <p class="breadcrumb"><a href="#/productos">Productos</a></p>
      <div class="screen-head">
        <Title class="item-name">{item.name}</Title>
        <Badge availability={item.availability} />
        <LowStockBadge low={item.lowStock} />
      </div>
      <dl class="facts">
        <dt>SKU</dt><dd>{item.sku ?? "—"}</dd>
        <dt>Precio</dt><dd>{formatMoney(item.price)}</dd>
        <dt>Tipo</dt><dd>{item.type === "SERVICE" ? "Servicio" : "Producto"}</dd>
        {item.options.map((option) => (
          <Fragment key={option.name}><dt>{option.name}</dt><dd>{option.values.join(", ")}</dd></Fragment>
        ))}
        <dt>Reservada</dt><dd class="reserved">{item.trackInventory ? item.reservedQuantity : "—"}</dd>
        <dt>Disponible</dt><dd class="available">{formatCount(item.availableQuantity)}</dd>
      </dl>
      {item.type === "SERVICE" ? (
        <p class="hint">Los servicios no llevan inventario: siempre están disponibles.</p>
      ) : (
        <>
          <InventoryForm key={item.id} item={item} levels={levels} accountingSync={accountingSync} />
          {item.trackInventory && <AdjustForm item={item} levels={levels} accountingSync={accountingSync} />}
          {item.trackInventory && warehouses.length > 1 && <TransferForm item={item} warehouses={warehouses} accountingSync={accountingSync} />}
          {item.trackInventory && <LowStockForm key={`${item.id}-low`} item={item} storeThreshold={storeThreshold} />}
        </>
      )}
      <Movements item={item} levels={levels} />
    </section>
  );
}

/** What the merchant typed in a count: the text, whether the browser could read it as a number, and the count they saw when they began. */
type Edit = { value: string; bad: boolean; seen: number };

/** Counts are kept within +-1e9 (MAX_ABS_QUANTITY in src/validation.ts, which the console does not bundle). */
const MAX_COUNT = 1_000_000_000;

/** The whole number `text` says, or null when it says none (the API takes only whole units within its bounds). */
function wholeNumber(text: string, bad = false): number | null {
  const number = Number(text.trim());
  return !bad && /^[+-]?\d+$/.test(text.trim()) && Math.abs(number) <= MAX_COUNT ? number : null;
}

const NOT_A_COUNT = "Escribe la cantidad en números enteros, como 5 o 0.";

/** What a Guardar did, said back: what was saved, or that nothing was and why. */
type Outcome = { text: string; nothing?: boolean };

function InventoryForm({ item, levels, accountingSync }: { item: ItemDetail; levels: Level[]; accountingSync: boolean }) {
  const client = useClient();
  const [, updateItem] = useMutation<{ updateItem: ItemResult }>(UPDATE_ITEM);
  const [, setQuantity] = useMutation<{ setItemQuantity: ItemResult }>(SET_QUANTITY);
  const [track, setTrack] = useState(item.trackInventory);
  const [sellWithoutStock, setSellWithoutStock] = useState(item.sellWithoutStock);
  const [edits, setEdits] = useState<Record<string, Edit>>({});
  const [note, setNote] = useState("");
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ error: ApiError; level?: string; says?: Says } | null>(null);
  const [stale, setStale] = useState<{ level: string; now: number | null } | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);

  /**
   * Keeps what the merchant typed, with the count they saw when they began. A number input gives
   * "" both when emptied and when it holds no number ("-", "e"): the second is kept, as a mistake.
   */
  function type(level: Level, input: HTMLInputElement) {
    setOutcome(null);
    const seen = edits[level.key]?.seen ?? level.quantity;
    const { [level.key]: _previous, ...rest } = edits;
    const bad = input.validity.badInput;
    setEdits(input.value === "" && !bad ? rest : { ...rest, [level.key]: { value: input.value, bad, seen } });
  }

  /** Nothing to save: says so, and why, instead of claiming a save. */
  function nothingToSave(): Outcome {
    const why = accountingSync
      ? "no cambiaste «Registrar cantidad disponible» ni «Vender sin Stock», y las cantidades se gestionan desde Alegra Contabilidad"
      : "no escribiste ninguna cantidad ni cambiaste «Registrar cantidad disponible» o «Vender sin Stock»";
    const aboutNote = note.trim() && !accountingSync ? " La nota se guarda junto con una cantidad." : "";
    return { text: `No se guardó nada: ${why}.${aboutNote}`, nothing: true };
  }

  async function save(event: Event) {
    event.preventDefault();
    setFailure(null);
    setStale(null);
    setOutcome(null);
    const counting = track && !accountingSync ? levels.filter((level) => edits[level.key]) : [];
    const unreadable = counting.find((level) => wholeNumber(edits[level.key]!.value, edits[level.key]!.bad) === null);
    if (unreadable) return setFailure({ error: problem("quantity", NOT_A_COUNT), level: unreadable.key });
    const settingsChanged = track !== item.trackInventory || sellWithoutStock !== item.sellWithoutStock;
    if (!settingsChanged && counting.length === 0) return setOutcome(nothingToSave());

    setBusy(true);
    const saved: string[] = [];
    try {
      const wasTracked = item.trackInventory;
      if (settingsChanged) {
        const outcome = await updateItem({ input: { id: item.id, trackInventory: track, sellWithoutStock } });
        const error = errorOf(outcome, outcome.data?.updateItem);
        if (error) return setFailure({ error });
        if (track !== item.trackInventory) saved.push(`«Registrar cantidad disponible» ${track ? "activado" : "desactivado"}`);
        if (sellWithoutStock !== item.sellWithoutStock) saved.push(`«Vender sin Stock» ${sellWithoutStock ? "activado" : "desactivado"}`);
      }
      let remaining = { ...edits };
      for (const level of counting) {
        const edit = remaining[level.key]!;
        const quantity = wholeNumber(edit.value)!;
        const outcome = await setQuantity({
          input: {
            itemId: item.id,
            variantId: level.variantId,
            warehouseId: level.warehouseId,
            quantity,
            // an untracked item showed no count: there is nothing the merchant saw to compare with
            expectedQuantity: wasTracked ? edit.seen : undefined,
            note: note.trim() || undefined,
          },
        });
        const error = errorOf(outcome, outcome.data?.setItemQuantity);
        if (error?.code === "STALE_QUANTITY") {
          // Someone (an order, another tab) changed it: show the count now and let the merchant decide.
          const fresh = await client.query<ItemData>(ITEM, { id: item.id }, { requestPolicy: "network-only" }).toPromise();
          const now = fresh.data?.item ? (levelsOf(fresh.data.item).find((l) => l.key === level.key)?.quantity ?? null) : null;
          setEdits({ ...remaining, [level.key]: { ...edit, seen: now ?? edit.seen } });
          return setStale({ level: level.key, now });
        }
        if (error) {
          setEdits(remaining);
          // the one refusal of a readable count the service explains only in English: the units left would go below zero
          const says = quantity < level.committed && !sellWithoutStock ? { INVALID_INPUT: belowZero(level.committed) } : undefined;
          return setFailure({ error, level: level.key, says });
        }
        saved.push(`${countName(level)}: ${quantity} ${quantity === 1 || quantity === -1 ? "unidad" : "unidades"}`);
        const { [level.key]: _done, ...rest } = remaining;
        remaining = rest;
      }
      setEdits({});
      setNote("");
    } finally {
      setBusy(false);
      if (saved.length > 0) setOutcome({ text: `Guardado: ${saved.join("; ")}.` });
    }
  }

  const hasOptions = item.options.length > 0;
  const levelError = (level: Level) => (failure?.level === level.key ? failure.error : null);
  const noteError = errorFor(failure?.error ?? null, "note");
  return (
    // noValidate: the browser's own bubble for "-" in a number field is in the browser's language; the console says it in Spanish
    <form class="panel" onSubmit={save} aria-labelledby="inventory-title" noValidate>
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
              {hasOptions && <th scope="col">Variante</th>}
              <th scope="col">Bodega</th>
              <th scope="col" class="number">Cantidad</th>
              <th scope="col" class="number">Comprometida</th>
              <th scope="col" class="number">Reservada</th>
              <th scope="col" class="number">Disponible</th>
              <th scope="col">Cantidad disponible</th>
            </tr>
          </thead>
          <tbody>
            {levels.map((level) => {
              const id = `count-${level.key.replace(":", "-")}`;
              const error = levelError(level);
              return (
                <tr key={level.key} data-level={level.key}>
                  {hasOptions && <td>{level.variant}</td>}
                  <td>
                    {level.warehouse}
                    {!level.fulfils && <small class="tag">no despacha en línea</small>}
                  </td>
                  <td class="number quantity">{item.trackInventory ? level.quantity : "—"}</td>
                  <td class="number committed">{level.committed}</td>
                  <td class="number reserved">{level.reserved}</td>
                  <td class="number">{item.trackInventory ? level.available : "—"}</td>
                  <td>
                    <input
                      {...describedBy(id, error)}
                      type="number"
                      step={1}
                      aria-label={level.variant ? `Cantidad disponible de ${level.variant} en ${level.warehouse}` : `Cantidad disponible en ${level.warehouse}`}
                      placeholder={item.trackInventory ? String(level.quantity) : ""}
                      disabled={accountingSync}
                      value={edits[level.key]?.value ?? ""}
                      onInput={(e) => type(level, e.currentTarget)}
                    />
                    {error && <ErrorMessage id={`${id}-error`} error={error} says={failure?.says} />}
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
        <Field id="inventory-note" label="Nota (opcional)" error={noteError}>
          <input {...describedBy("inventory-note", noteError)} value={note} maxLength={500} disabled={accountingSync}
            onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
      )}
      {failure && !failure.level && <FormError error={failure.error} fields={["note"]} />}
      <Button busy={busy}>Guardar</Button>
      {outcome && <Notice nothing={outcome.nothing}>{outcome.text}</Notice>}
    </form>
  );
}

/**
 * "Stock bajo": each variant's own low-stock threshold, or the store's when left empty. Saving a
 * threshold a variant already meets records its alert (and the top bar shows it).
 */
function LowStockForm({ item, storeThreshold }: { item: ItemDetail; storeThreshold: number | null }) {
  const [, updateVariant] = useMutation<{ updateVariant: VariantResult }>(UPDATE_VARIANT);
  const [typed, setTyped] = useState<Record<string, { value: string; bad: boolean }>>({});
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ error: ApiError; variantId: string } | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const name = (variant: ItemDetail["variants"][number]) => (variant.options.length ? variantLabel(variant.options) : "Este producto");
  const fallback = storeThreshold == null ? "Sin umbral" : `El de la tienda (${storeThreshold})`;

  async function save(event: Event) {
    event.preventDefault();
    setFailure(null);
    setOutcome(null);
    // empty: the store's threshold again; otherwise a whole number of units, 0 or more
    const wanted = item.variants.flatMap((variant) => {
      const edit = typed[variant.id];
      if (!edit) return [];
      const empty = edit.value.trim() === "" && !edit.bad;
      const threshold = empty ? null : wholeNumber(edit.value, edit.bad);
      if (!empty && (threshold === null || threshold < 0)) return [{ variant, threshold: Number.NaN }];
      return threshold === variant.lowStockThreshold ? [] : [{ variant, threshold }];
    });
    const wrong = wanted.find(({ threshold }) => Number.isNaN(threshold));
    if (wrong) {
      const text = "Escribe el umbral en números enteros, 0 o más; o déjalo vacío para usar el de la tienda.";
      return setFailure({ error: problem("lowStockThreshold", text), variantId: wrong.variant.id });
    }
    if (wanted.length === 0) return setOutcome({ text: "No se guardó nada: no cambiaste ningún umbral.", nothing: true });
    setBusy(true);
    const saved: string[] = [];
    for (const { variant, threshold } of wanted) {
      const outcome = await updateVariant({
        input: threshold === null ? { id: variant.id, clearLowStockThreshold: true } : { id: variant.id, lowStockThreshold: threshold },
      });
      const error = errorOf(outcome, outcome.data?.updateVariant);
      if (error) {
        setFailure({ error, variantId: variant.id });
        break;
      }
      saved.push(`${name(variant)}: ${threshold === null ? fallback.toLowerCase() : `${threshold} unidades`}`);
    }
    setBusy(false);
    if (saved.length > 0) {
      setTyped({});
      setOutcome({ text: `Umbral de stock bajo guardado (${saved.join("; ")}).` });
    }
  }

  return (
    <form class="panel low-stock-form" onSubmit={save} aria-labelledby="low-stock-title" noValidate>
      <h2 id="low-stock-title">Stock bajo</h2>
      <p class="hint">Te avisamos cuando lo disponible llega al umbral o baja de él. Vacío: {fallback.toLowerCase()}.</p>
      <table>
        <tbody>
          {item.variants.map((variant) => {
            const id = `threshold-${variant.id}`;
            const error = failure?.variantId === variant.id ? failure.error : null;
            return (
              <tr key={variant.id} data-variant-id={variant.id}>
                <td>
                  <Field id={id} label={`Umbral de stock bajo: ${name(variant)}`} error={error}>
                    <input {...describedBy(id, error)} type="number" min={0} step={1} placeholder={fallback}
                      value={typed[variant.id]?.value ?? (variant.lowStockThreshold == null ? "" : String(variant.lowStockThreshold))}
                      onInput={(e) => setTyped({ ...typed, [variant.id]: { value: e.currentTarget.value, bad: e.currentTarget.validity.badInput } })} />
                  </Field>
                </td>
                <td class="number">Disponible: {formatCount(variant.availableQuantity)}</td>
                <td><LowStockBadge low={variant.lowStock} /></td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <Button busy={busy}>Cambiar umbral</Button>
      {outcome && <Notice nothing={outcome.nothing}>{outcome.text}</Notice>}
    </form>
  );
}

/** Why the forms that change counts are read-only while the accounting system keeps the counts. */
const SyncedHint = () => <p class="hint">Mientras la sincronización con Alegra Contabilidad está activa, las cantidades se cambian desde allí.</p>;

function AdjustForm({ item, levels, accountingSync }: { item: ItemDetail; levels: Level[]; accountingSync: boolean }) {
  const [state, adjust] = useMutation<{ adjustItemQuantity: ItemResult }>(ADJUST_QUANTITY);
  const [levelKey, setLevelKey] = useState(levels[0]!.key);
  const [delta, setDelta] = useState({ value: "", bad: false });
  const [note, setNote] = useState("");
  const [error, setError] = useState<ApiError | null>(null);
  const [says, setSays] = useState<Says | undefined>(undefined);
  const [saved, setSaved] = useState<string | null>(null);
  const level = levels.find((l) => l.key === levelKey) ?? levels[0]!;

  async function submit(event: Event) {
    event.preventDefault();
    setSaved(null);
    setSays(undefined);
    const units = wholeNumber(delta.value, delta.bad);
    if (units === null || units === 0) {
      return setError(problem("delta", "Escribe las unidades en números enteros, distintos de 0: positivos entran, negativos salen."));
    }
    const outcome = await adjust({
      input: { itemId: item.id, variantId: level.variantId, warehouseId: level.warehouseId, delta: units, note: note.trim() || undefined },
    });
    const failure = errorOf(outcome, outcome.data?.adjustItemQuantity);
    setError(failure);
    if (failure) {
      // the one refusal of a readable number the service explains only in English: more units out than there are
      if (units < 0 && units + level.available < 0 && !item.sellWithoutStock) setSays({ INVALID_INPUT: tooManyOut(level.available, levelName(level)) });
      return;
    }
    setSaved(`Ajuste de ${units > 0 ? "+" : ""}${units} en ${levelName(level)} guardado.`);
    setDelta({ value: "", bad: false });
    setNote("");
  }

  const deltaError = errorFor(error, "delta") ?? errorFor(error, "quantity");
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="adjust-title" noValidate>
      <h2 id="adjust-title">Ajustar cantidad</h2>
      {accountingSync && <SyncedHint />}
      <div class="row">
        {levels.length > 1 && (
          <Field id="adjust-level" label="Dónde" error={null}>
            <select id="adjust-level" value={levelKey} disabled={accountingSync} onChange={(e) => setLevelKey(e.currentTarget.value)}>
              {levels.map((l) => <option key={l.key} value={l.key}>{levelName(l)}</option>)}
            </select>
          </Field>
        )}
        <Field id="adjust-delta" label="Unidades (+ entran, − salen)" error={deltaError} says={says}>
          <input {...describedBy("adjust-delta", deltaError)} type="number" step={1} required disabled={accountingSync} value={delta.value}
            onInput={(e) => setDelta({ value: e.currentTarget.value, bad: e.currentTarget.validity.badInput })} />
        </Field>
        <Field id="adjust-note" label="Nota del ajuste (opcional)" error={errorFor(error, "note")}>
          <input {...describedBy("adjust-note", errorFor(error, "note"))} value={note} maxLength={500} disabled={accountingSync}
            onInput={(e) => setNote(e.currentTarget.value)} />
        </Field>
      </div>
      <FormError error={error} says={says} fields={["delta", "quantity", "note"]} />
      <Button busy={state.fetching} disabled={accountingSync}>Ajustar</Button>
      {saved && <Notice>{saved}</Notice>}
    </form>
  );
}

/** Moves units of one variant from one warehouse to another ("Trasladar"). */
function TransferForm({ item, warehouses, accountingSync }: { item: ItemDetail; warehouses: { id: string; name: string }[]; accountingSync: boolean }) {
  const [state, transfer] = useMutation<{ transferStock: TransferResult }>(TRANSFER_STOCK);
  const [form, setForm] = useState({ variantId: item.variants[0]!.id, from: warehouses[0]!.id, to: warehouses[1]!.id, quantity: "", bad: false, note: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const set = (changes: Partial<typeof form>) => setForm({ ...form, ...changes });
  const nameOf = (id: string) => warehouses.find((w) => w.id === id)?.name ?? id;

  async function submit(event: Event) {
    event.preventDefault();
    setSaved(null);
    const units = wholeNumber(form.quantity, form.bad);
    if (units === null || units < 1) return setError(problem("quantity", "Escribe cuántas unidades trasladar, en números enteros: 1 o más."));
    const outcome = await transfer({
      input: { variantId: form.variantId, fromWarehouseId: form.from, toWarehouseId: form.to, quantity: units, note: form.note.trim() || undefined },
    });
    const result = outcome.data?.transferStock;
    const failure = errorOf(outcome, result);
    if (result?.__typename === "InsufficientStockError") {
      const available = result.shortages[0]?.available;
      const text = available === undefined ? undefined : `No hay unidades suficientes: hay ${available} en ${nameOf(form.from)}.`;
      setError({ code: result.code, message: result.message, field: "quantity", text });
      return;
    }
    setError(failure);
    if (failure) return;
    setSaved(`${units} ${units === 1 ? "unidad trasladada" : "unidades trasladadas"} de ${nameOf(form.from)} a ${nameOf(form.to)}.`);
    set({ quantity: "", bad: false, note: "" });
  }

  const field = (name: string) => errorFor(error, name);
  return (
    <form class="panel" onSubmit={submit} aria-labelledby="transfer-title" noValidate>
      <h2 id="transfer-title">Trasladar entre bodegas</h2>
      {accountingSync && <SyncedHint />}
      <div class="row">
        {item.options.length > 0 && (
          <Field id="transfer-variant" label="Variante" error={field("variantId")}>
            <select {...describedBy("transfer-variant", field("variantId"))} value={form.variantId} disabled={accountingSync}
              onChange={(e) => set({ variantId: e.currentTarget.value })}>
              {item.variants.map((v) => <option key={v.id} value={v.id}>{variantLabel(v.options)}</option>)}
            </select>
          </Field>
        )}
        <Field id="transfer-from" label="Desde" error={field("fromWarehouseId")}>
          <select {...describedBy("transfer-from", field("fromWarehouseId"))} value={form.from} disabled={accountingSync}
            onChange={(e) => set({ from: e.currentTarget.value })}>
            {warehouses.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
          </select>
        </Field>
        <Field id="transfer-to" label="Hacia" error={field("toWarehouseId")}>
          <select {...describedBy("transfer-to", field("toWarehouseId"))} value={form.to} disabled={accountingSync}
            onChange={(e) => set({ to: e.currentTarget.value })}>
            {warehouses.map((w) => <option key={w.id} value={w.id}>{w.name}</option>)}
          </select>
        </Field>
        <Field id="transfer-quantity" label="Unidades a trasladar" error={field("quantity")}>
          <input {...describedBy("transfer-quantity", field("quantity"))} type="number" min={1} step={1} required disabled={accountingSync}
            value={form.quantity} onInput={(e) => set({ quantity: e.currentTarget.value, bad: e.currentTarget.validity.badInput })} />
        </Field>
      </div>
      <Field id="transfer-note" label="Nota del traslado (opcional)" error={field("note")}>
        <input {...describedBy("transfer-note", field("note"))} value={form.note} maxLength={500} disabled={accountingSync}
          onInput={(e) => set({ note: e.currentTarget.value })} />
      </Field>
      <FormError error={error} fields={["variantId", "fromWarehouseId", "toWarehouseId", "quantity", "note"]} />
      <Button busy={state.fetching} disabled={accountingSync}>Trasladar</Button>
      {saved && <Notice>{saved}</Notice>}
    </form>
  );
}

const MOVEMENTS_PAGE = 10;

/** Who changed a count, why and when: newest first, a page at a time. */
function Movements({ item, levels }: { item: ItemDetail; levels: Level[] }) {
  const pager = usePager();
  const [result, reexecute] = useQuery<MovementsData>({ query: MOVEMENTS, variables: { id: item.id, first: MOVEMENTS_PAGE, after: pager.after } });
  useEffect(() => {
    if (result.data) reexecute({ requestPolicy: "network-only" });
  }, [item.version]);
  const movements = result.data?.item?.stockMovements.edges.map((edge) => edge.node) ?? [];
  const levelOf = (variantId: string, warehouseId: string) => levels.find((l) => l.key === `${variantId}:${warehouseId}`);
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
              <th scope="col">Dónde</th>
              <th scope="col" class="number">Cambio</th>
              <th scope="col" class="number">Cantidad después</th>
              <th scope="col">Nota</th>
            </tr>
          </thead>
          <tbody>
            {movements.map((movement) => {
              const reason = MOVEMENT_REASON[movement.reason] ?? { why: movement.reason, who: "—" };
              const level = levelOf(movement.variantId, movement.warehouseId);
              const note = movementNote(movement);
              return (
                <tr key={movement.id}>
                  <td>{formatDate(movement.createdAt)}</td>
                  <td>
                    {reason.why}
                    {movement.orderId && <> · <a href={`#/pedidos/${movement.orderId}`}>ver pedido</a></>}
                  </td>
                  <td>{reason.who}</td>
                  <td>{level ? levelName(level) : "—"}</td>
                  <td class="number">{movement.delta > 0 ? `+${movement.delta}` : movement.delta}</td>
                  <td class="number">{movement.quantityAfter}</td>
                  <td class="note">{note}</td>
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
