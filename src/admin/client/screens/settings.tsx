/**
 * "Configuración", section "Inventario": what a sold-out product shows ("Ocultar producto" / "Marcar como
 * agotado"), the low-stock threshold, how long a cart hold lasts ("Reserva del carrito"), the link with Alegra Contabilidad, "Sincronizar inventario de todos los productos
 * con Alegra Contabilidad", "Sincronizar ahora", and the last runs with what they could not match.
 */
import { useState } from "preact/hooks";
import { useMutation, useQuery } from "@urql/preact";
import {
  CONNECT_ACCOUNTING, STORE, SYNC_NOW, SYNC_RUNS, UPDATE_SETTINGS, errorOf,
  type ApiError, type InventorySettings, type StoreData, type SyncRun, type SyncRunsData,
} from "../api.ts";
import { formatDate, SYNC_STATUS, SYNC_TRIGGER, UNMATCHED_REASON } from "../labels.ts";
import { Warehouses } from "./warehouses.tsx";
import { FIELD_MESSAGE, problem } from "../messages.ts";
import { Button, describedBy, ErrorMessage, errorFor, Field, FormError, Loading, Notice, Title } from "../ui.tsx";

const BEHAVIOR = { MARK_SOLD_OUT: "Marcar como agotado", HIDE: "Ocultar producto" } as const;
/** the service's bound (src/stores/inventory-settings.ts MAX_RESERVATION_MINUTES), checked here too so that the form says it first */
const MAX_RESERVATION_MINUTES = 120;
const holdLabel = (minutes: number) => (minutes === 0 ? "sin reservas del carrito" : `reserva del carrito: ${minutes} minutos`);

export function Settings({ slug }: { slug: string }) {
  const [store] = useQuery<StoreData>({ query: STORE, variables: { slug } });
  const [runs, reexecuteRuns] = useQuery<SyncRunsData>({ query: SYNC_RUNS });
  const settings = store.data?.store?.inventorySettings;
  const error = errorOf(store);
  const refreshRuns = () => reexecuteRuns({ requestPolicy: "network-only" });
  return (
    <section>
      <Title>Configuración</Title>
      {error && <ErrorMessage class="form-error" error={error} />}
      {!settings ? (
        <Loading />
      ) : (
        <>
          <InventorySection settings={settings} onSynced={refreshRuns} />
          <Warehouses warehouses={settings.warehouses} />
          <AccountingSection settings={settings} />
          <SyncRuns runs={runs.data?.syncRuns} />
        </>
      )}
    </section>
  );
}

function InventorySection({ settings, onSynced }: { settings: InventorySettings; onSynced(): void }) {
  const [editing, setEditing] = useState(false);
  const [saving, updateSettings] = useMutation(UPDATE_SETTINGS);
  const [syncing, syncNow] = useMutation(SYNC_NOW);
  const [sync, setSync] = useState(settings.accountingSync);
  const [behavior, setBehavior] = useState(settings.outOfStockBehavior);
  const shownThreshold = settings.lowStockThreshold == null ? "" : String(settings.lowStockThreshold);
  const [threshold, setThreshold] = useState({ value: shownThreshold, bad: false });
  const [minutes, setMinutes] = useState({ value: String(settings.reservationMinutes), bad: false });
  const [error, setError] = useState<ApiError | null>(null);
  const [notice, setNotice] = useState<{ text: string; nothing?: boolean } | null>(null);
  const startsSync = sync && !settings.accountingSync;

  async function save(event: Event) {
    event.preventDefault();
    setNotice(null);
    const behaviorChange = behavior !== settings.outOfStockBehavior ? `cuando se acabe un producto, «${BEHAVIOR[behavior]}»` : null;
    const typed = threshold.value.trim();
    const units = typed === "" && !threshold.bad ? null : /^\d+$/.test(typed) && !threshold.bad ? Number(typed) : Number.NaN;
    if (Number.isNaN(units)) return setError(problem("lowStockThreshold", "Escribe el umbral de stock bajo en números enteros, 0 o más; o déjalo vacío."));
    const thresholdChange = units !== settings.lowStockThreshold
      ? units === null ? "sin umbral de stock bajo" : `umbral de stock bajo: ${units} unidades`
      : null;
    const typedMinutes = minutes.value.trim();
    const holdMinutes = /^\d+$/.test(typedMinutes) && !minutes.bad ? Number(typedMinutes) : Number.NaN;
    if (Number.isNaN(holdMinutes) || holdMinutes > MAX_RESERVATION_MINUTES) return setError(problem("reservationMinutes", FIELD_MESSAGE.INVALID_INPUT!.reservationMinutes!));
    const minutesChange = holdMinutes !== settings.reservationMinutes ? holdLabel(holdMinutes) : null;
    if (sync === settings.accountingSync && !behaviorChange && !thresholdChange && !minutesChange) {
      setEditing(false);
      return setNotice({ text: "No se guardó nada: no cambiaste ninguna opción.", nothing: true });
    }
    const thresholdInput = thresholdChange ? (units === null ? { clearLowStockThreshold: true } : { lowStockThreshold: units }) : {};
    const minutesInput = minutesChange ? { reservationMinutes: holdMinutes } : {};
    const outcome = await updateSettings({ input: { accountingSync: sync, outOfStockBehavior: behavior, ...thresholdInput, ...minutesInput } });
    const failure = errorOf(outcome, outcome.data?.updateInventorySettings);
    setError(failure);
    if (startsSync) onSynced();
    if (failure) return;
    setEditing(false);
    const saved = [sync === settings.accountingSync ? null : "sincronización con Alegra Contabilidad desactivada", behaviorChange, thresholdChange, minutesChange].filter(Boolean);
    const alsoSaved = [behaviorChange, thresholdChange, minutesChange].filter(Boolean);
    setNotice({
      text: startsSync
        ? `Inventario sincronizado con Alegra Contabilidad.${alsoSaved.length ? ` Guardado: ${alsoSaved.join("; ")}.` : ""}`
        : `Guardado: ${saved.join("; ")}.`,
    });
  }

  async function runSync() {
    setNotice(null);
    const outcome = await syncNow({});
    const failure = errorOf(outcome, outcome.data?.syncInventoryNow);
    setError(failure);
    onSynced();
    if (!failure) setNotice({ text: outcome.data?.syncInventoryNow.status === "FAILED" ? "La sincronización falló: revisa la última ejecución." : "Inventario sincronizado." });
  }

  if (!editing) {
    return (
      <section class="panel" aria-labelledby="inventory-settings-title">
        <div class="screen-head">
          <h2 id="inventory-settings-title">Inventario</h2>
          <button type="button" onClick={() => {
            setSync(settings.accountingSync);
            setBehavior(settings.outOfStockBehavior);
            setThreshold({ value: shownThreshold, bad: false });
            setMinutes({ value: String(settings.reservationMinutes), bad: false });
            setError(null);
            setEditing(true);
          }}>Editar</button>
        </div>
        <dl class="facts">
          <dt>Cuando se acabe un producto</dt><dd class="behavior">{BEHAVIOR[settings.outOfStockBehavior]}</dd>
          <dt>Sincronización con Alegra Contabilidad</dt><dd class="sync-state">{settings.accountingSync ? "Activa" : "Inactiva"}</dd>
          <dt>Bodega principal</dt><dd>{settings.mainWarehouse?.name ?? "—"}</dd>
          <dt>Umbral de stock bajo</dt>
          <dd class="low-stock-threshold">{settings.lowStockThreshold == null ? "Sin umbral" : `${settings.lowStockThreshold} unidades`}</dd>
          <dt>Reserva del carrito</dt>
          <dd class="reservation-minutes">{settings.reservationMinutes === 0 ? "Sin reservas" : `${settings.reservationMinutes} minutos`}</dd>
        </dl>
        {settings.accountingSync && (
          <Button type="button" busy={syncing.fetching} busyLabel="Sincronizando…" onClick={runSync}>Sincronizar ahora</Button>
        )}
        <FormError error={error} />
        {notice && <Notice nothing={notice.nothing}>{notice.text}</Notice>}
      </section>
    );
  }
  return (
    <form class="panel" onSubmit={save} aria-labelledby="inventory-settings-title">
      <h2 id="inventory-settings-title">Inventario</h2>
      <label class="check">
        <input type="checkbox" checked={sync} disabled={!settings.accountingConnected && !settings.accountingSync}
          aria-describedby="sync-hint" onChange={(e) => setSync(e.currentTarget.checked)} />
        Sincronizar inventario de todos los productos con Alegra Contabilidad
      </label>
      <p id="sync-hint" class="hint">
        {settings.accountingConnected
          ? "Asegúrate de tener el inventario actualizado en Alegra Contabilidad antes de sincronizar. Mientras esté activa, las cantidades se gestionan desde allí."
          : "Conecta Alegra Contabilidad (abajo) para poder sincronizar."}
      </p>
      {errorFor(error, "accountingSync") && <ErrorMessage error={error!} />}
      <fieldset>
        <legend>Cuando se acabe el inventario de un producto</legend>
        {(Object.keys(BEHAVIOR) as (keyof typeof BEHAVIOR)[]).map((value) => (
          <label class="check" key={value}>
            <input type="radio" name="out-of-stock" value={value} checked={behavior === value} onChange={() => setBehavior(value)} />
            {BEHAVIOR[value]}
          </label>
        ))}
      </fieldset>
      <Field id="store-threshold" label="Umbral de stock bajo (unidades disponibles)" error={errorFor(error, "lowStockThreshold")}
        hint="Te avisamos cuando lo disponible de una variante llega a este número o baja de él. Vacío: sin aviso, salvo las variantes con umbral propio.">
        <input {...describedBy("store-threshold", errorFor(error, "lowStockThreshold"))} type="number" min={0} step={1} value={threshold.value}
          onInput={(e) => setThreshold({ value: e.currentTarget.value, bad: e.currentTarget.validity.badInput })} />
      </Field>
      <Field id="reservation-minutes" label="Reserva del carrito (minutos)" error={errorFor(error, "reservationMinutes")}
        hint="Al realizar el pedido, la tienda aparta las unidades del carrito durante estos minutos mientras el comprador paga. 0: sin reservas, el pedido se hace al instante.">
        <input {...describedBy("reservation-minutes", errorFor(error, "reservationMinutes"))} type="number" min={0} step={1}
          value={minutes.value} onInput={(e) => setMinutes({ value: e.currentTarget.value, bad: e.currentTarget.validity.badInput })} />
      </Field>
      <FormError error={error} fields={["accountingSync", "lowStockThreshold", "reservationMinutes"]} />
      <div class="actions">
        <Button busy={saving.fetching} busyLabel={startsSync ? "Sincronizando…" : "Guardando…"}>{startsSync ? "Sincronizar ahora" : "Guardar"}</Button>
        <button type="button" class="link-button" onClick={() => setEditing(false)}>Cancelar</button>
      </div>
    </form>
  );
}

function AccountingSection({ settings }: { settings: InventorySettings }) {
  const [state, connect] = useMutation(CONNECT_ACCOUNTING);
  const [open, setOpen] = useState(!settings.accountingConnected);
  const [form, setForm] = useState({ email: "", token: "", baseUrl: "" });
  const [error, setError] = useState<ApiError | null>(null);
  const set = (changes: Partial<typeof form>) => setForm({ ...form, ...changes });

  async function submit(event: Event) {
    event.preventDefault();
    const outcome = await connect({ input: { email: form.email.trim(), token: form.token.trim(), baseUrl: form.baseUrl.trim() || undefined } });
    const failure = errorOf(outcome, outcome.data?.connectAccounting);
    setError(failure);
    if (failure) return;
    setForm({ email: "", token: "", baseUrl: "" });
    setOpen(false);
  }

  const field = (name: string) => errorFor(error, name);
  return (
    <section class="panel" aria-labelledby="accounting-title">
      <h2 id="accounting-title">Alegra Contabilidad</h2>
      {settings.accountingConnected ? (
        <>
          <p class="connected">Conectada.</p>
          {settings.webhookUrl && (
            <p class="hint">Alegra Contabilidad avisa de los cambios en: <code class="webhook-url">{settings.webhookUrl}</code></p>
          )}
          {!open && <button type="button" onClick={() => setOpen(true)}>Cambiar credenciales</button>}
        </>
      ) : (
        <p class="hint">Conecta tu cuenta para sincronizar el inventario y facturar los pedidos.</p>
      )}
      {open && (
        <form onSubmit={submit}>
          <div class="row">
            <Field id="accounting-email" label="Correo de la cuenta" error={field("email")}>
              <input {...describedBy("accounting-email", field("email"))} type="email" required autocomplete="off" value={form.email}
                onInput={(e) => set({ email: e.currentTarget.value })} />
            </Field>
            <Field id="accounting-token" label="Token de la API" error={field("token")}>
              <input {...describedBy("accounting-token", field("token"))} type="password" required autocomplete="off" value={form.token}
                onInput={(e) => set({ token: e.currentTarget.value })} />
            </Field>
          </div>
          <Field id="accounting-url" label="Dirección de la API (opcional)" error={field("baseUrl")} hint="Déjala vacía para usar la de Alegra.">
            <input {...describedBy("accounting-url", field("baseUrl"))} type="url" value={form.baseUrl} onInput={(e) => set({ baseUrl: e.currentTarget.value })} />
          </Field>
          <FormError error={error} fields={["email", "token", "baseUrl"]} />
          <Button busy={state.fetching} busyLabel="Conectando…">Conectar</Button>
        </form>
      )}
    </section>
  );
}

function SyncRuns({ runs }: { runs: SyncRun[] | undefined }) {
  return (
    <section class="panel" aria-labelledby="runs-title">
      <h2 id="runs-title">Últimas sincronizaciones</h2>
      {!runs ? (
        <Loading />
      ) : runs.length === 0 ? (
        <p class="empty">Aún no hay sincronizaciones.</p>
      ) : (
        <ol class="runs">
          {runs.map((run) => (
            <li key={run.id} class={`run run-${run.status.toLowerCase()}`} data-run-id={run.id}>
              <p>
                <strong>{formatDate(run.startedAt)}</strong> · {SYNC_TRIGGER[run.trigger] ?? run.trigger} ·{" "}
                <span class="run-status">{SYNC_STATUS[run.status] ?? run.status}</span>
              </p>
              <p class="run-counts">
                {run.itemsMatched} enlazados, {run.itemsUpdated} actualizados, {run.itemsUnmatched} sin enlazar
              </p>
              {run.error && (
                // a failed run changed no count (src/accounting/inventory-sync.ts); the service's English reason is for support
                <p class="field-error run-error" title={run.error}>
                  La sincronización no se completó y no cambió ninguna cantidad. Inténtalo de nuevo con «Sincronizar ahora».
                </p>
              )}
              {run.unmatched.length > 0 && (
                <ul class="unmatched">
                  {run.unmatched.map((entry) => (
                    <li key={entry.variantId ?? entry.itemId}>
                      <a href={`#/productos/${entry.itemId}`}>{entry.sku ? `SKU ${entry.sku}` : "Producto"}</a>:{" "}
                      <span class="reason" title={entry.detail}>{UNMATCHED_REASON[entry.reason] ?? "No se pudo enlazar con un ítem de Alegra Contabilidad"}</span>
                    </li>
                  ))}
                </ul>
              )}
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}
