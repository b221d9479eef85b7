/**
 * The whole shop counted in a spreadsheet: "Exportar" downloads the inventory, "Importar" reads
 * the edited file back, previews every change (old -> new) and the rows it cannot use with the
 * reason, and "Aplicar" sends the changes in calls of 250, with a progress bar and a summary.
 */
import { useMemo, useState } from "preact/hooks";
import { useClient, useQuery } from "@urql/preact";
import {
  downloadInventory, SET_QUANTITIES, SKUS_PER_LOOKUP, STOCK_LEVELS_BY_SKU, STORE,
  type ApiError, type SetQuantitiesData, type StockLevelsBySkuData, type StoreData,
} from "../api.ts";
import { applyChanges, lookUpLevels, planImport, readSheet, skusOf, type ApplySummary, type ImportPlan, type PlannedChange, type RowProblem } from "../inventory-sheet.ts";
import { readSession } from "../session.ts";
import { Button, ErrorMessage, Loading, Notice, Title } from "../ui.tsx";

/** "Exportar": the file arrives as a download, fetched with the token in a header. */
export function ExportButton() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  async function download() {
    const session = readSession();
    if (!session) return;
    setBusy(true);
    setError(null);
    const answer = await downloadInventory(session);
    setBusy(false);
    if ("code" in answer) return setError(answer);
    const url = URL.createObjectURL(answer.file);
    const link = Object.assign(document.createElement("a"), { href: url, download: answer.name });
    link.click();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }
  return (
    <>
      <Button type="button" busy={busy} busyLabel="Exportando…" onClick={download}>Exportar</Button>
      {error && <ErrorMessage class="form-error" error={error} />}
    </>
  );
}

type Stage =
  | { name: "choose"; problem?: string }
  | { name: "reading"; file: string }
  | { name: "preview"; file: string; plan: ImportPlan }
  | { name: "applying"; file: string; plan: ImportPlan; done: number }
  | { name: "done"; file: string; plan: ImportPlan; summary: ApplySummary };

export function InventoryImport({ slug }: { slug: string }) {
  const client = useClient();
  const [store] = useQuery<StoreData>({ query: STORE, variables: { slug } });
  const settings = store.data?.store?.inventorySettings;
  const [stage, setStage] = useState<Stage>({ name: "choose" });

  async function read(file: File) {
    setStage({ name: "reading", file: file.name });
    const sheet = readSheet(await file.text());
    if ("problem" in sheet) return setStage({ name: "choose", problem: sheet.problem });
    const levels = await lookUpLevels(skusOf(sheet.rows), SKUS_PER_LOOKUP, async (skus) => {
      const answer = await client.query<StockLevelsBySkuData>(STOCK_LEVELS_BY_SKU, { skus }, { requestPolicy: "network-only" }).toPromise();
      return answer.data?.stockLevelsBySku ?? null;
    });
    if (!levels) return setStage({ name: "choose", problem: "No se pudo leer el inventario de la tienda para compararlo. Inténtalo de nuevo." });
    setStage({ name: "preview", file: file.name, plan: planImport(sheet.rows, levels, settings!.warehouses) });
  }

  async function apply(file: string, plan: ImportPlan) {
    setStage({ name: "applying", file, plan, done: 0 });
    const summary = await applyChanges(
      plan.changes,
      async (entries) => {
        const answer = await client.mutation<SetQuantitiesData>(SET_QUANTITIES, { input: { entries, note: `Importado de ${file}` } }).toPromise();
        if (!answer.data) throw new Error("no answer");
        return answer.data.setItemQuantities;
      },
      (done) => setStage({ name: "applying", file, plan, done }),
    );
    setStage({ name: "done", file, plan, summary });
  }

  return (
    <section class="inventory-import">
      <p class="breadcrumb"><a href="#/productos">Productos</a></p>
      <div class="screen-head">
        <Title>Importar inventario</Title>
        <ExportButton />
      </div>
      {!settings ? (
        <Loading />
      ) : settings.accountingSync ? (
        <Notice nothing>El inventario se gestiona desde Alegra Contabilidad mientras la sincronización está activa: no se puede importar.</Notice>
      ) : stage.name === "choose" || stage.name === "reading" ? (
        <div class="panel">
          <p class="hint">
            Exporta el inventario, cambia la columna «cantidad» en tu hoja de cálculo y guárdalo como CSV (separado por comas o por
            punto y coma). Antes de aplicar verás cada cambio.
          </p>
          <label for="sheet-file">Archivo CSV</label>
          <input id="sheet-file" type="file" accept=".csv,text/csv" disabled={stage.name === "reading"}
            onChange={(event) => {
              const file = event.currentTarget.files?.[0];
              if (file) void read(file);
            }} />
          {stage.name === "reading" && <Loading />}
          {stage.name === "choose" && stage.problem && <p class="form-error" role="alert">{stage.problem}</p>}
        </div>
      ) : (
        <Preview stage={stage} onApply={() => void apply(stage.file, stage.plan)} onAgain={() => setStage({ name: "choose" })} />
      )}
    </section>
  );
}

function Preview({ stage, onApply, onAgain }: { stage: Exclude<Stage, { name: "choose" | "reading" }>; onApply(): void; onAgain(): void }) {
  const { plan } = stage;
  const total = plan.changes.length;
  // the same elements while the progress bar moves: 10,000 rows are not rendered again at each call
  const lists = useMemo(
    () => (
      <>
        {plan.unusable.length > 0 && <Problems title="Filas que no se pueden usar" rows={plan.unusable} class="unusable" />}
        {total > 0 && <Changes changes={plan.changes} />}
      </>
    ),
    [plan],
  );
  return (
    <>
      <div class="panel import-counts" role="status">
        <p>
          <strong>{stage.file}</strong>: {total} {total === 1 ? "cambio" : "cambios"}, {plan.unchanged} sin cambios, {plan.unusable.length}{" "}
          {plan.unusable.length === 1 ? "fila que no se puede usar" : "filas que no se pueden usar"}.
        </p>
        {stage.name === "preview" && (
          <div class="actions">
            <Button type="button" disabled={total === 0} onClick={onApply}>Aplicar {total} {total === 1 ? "cambio" : "cambios"}</Button>
            <button type="button" onClick={onAgain}>Elegir otro archivo</button>
          </div>
        )}
        {stage.name === "applying" && (
          <p class="import-progress">
            <label for="import-progress">Aplicando…</label>{" "}
            <progress id="import-progress" max={total} value={stage.done} /> {stage.done} de {total}
          </p>
        )}
        {stage.name === "done" && <Summary summary={stage.summary} unchanged={plan.unchanged} onAgain={onAgain} />}
      </div>
      {lists}
    </>
  );
}

function Changes({ changes }: { changes: PlannedChange[] }) {
  return (
    <table class="import-changes">
      <caption>Cambios</caption>
      <thead>
        <tr>
          <th scope="col" class="number">Fila</th>
          <th scope="col">SKU</th>
          <th scope="col">Producto</th>
          <th scope="col">Bodega</th>
          <th scope="col" class="number">Cantidad</th>
        </tr>
      </thead>
      <tbody>
        {changes.map((change) => (
          <tr key={change.line} data-line={change.line}>
            <td class="number">{change.line}</td>
            <td>{change.sku}</td>
            <td>{change.product}{change.variant && <small class="tag">{change.variant}</small>}</td>
            <td>{change.warehouse}</td>
            <td class="number change">{change.old} → {change.new}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Summary({ summary, unchanged, onAgain }: { summary: ApplySummary; unchanged: number; onAgain(): void }) {
  return (
    <div class="import-summary">
      <Notice>
        Aplicados: {summary.applied}. Sin cambios: {unchanged}. Rechazados: {summary.refused.length}. Cambiaron mientras tanto:{" "}
        {summary.moved.length}.
      </Notice>
      {summary.unconfirmed > 0 && (
        <p class="form-error" role="alert">
          Se perdió la conexión: {summary.unconfirmed} cambios quedaron sin confirmar. Importa el archivo otra vez para ver cuáles faltan.
        </p>
      )}
      {summary.refused.length > 0 && <Problems title="Rechazados" rows={summary.refused} class="refused" />}
      {summary.moved.length > 0 && <Problems title="Cambiaron mientras tanto (no se sobrescribieron)" rows={summary.moved} class="moved" />}
      <button type="button" onClick={onAgain}>Importar otro archivo</button>
    </div>
  );
}

function Problems({ title, rows, class: className }: { title: string; rows: RowProblem[]; class: string }) {
  return (
    <section class={`panel ${className}`} aria-label={title}>
      <h2>{title}</h2>
      <ul>
        {rows.map((row) => (
          <li key={row.line} data-line={row.line}>
            Fila {row.line}{row.sku && <> (SKU {row.sku})</>}: <span class="reason">{row.reason}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
