/**
 * The store's warehouses ("bodegas") under Configuración -> Inventario: which fulfil online orders
 * and in what order (lower priority first), a new one, and deleting one that holds nothing.
 */
import { useState } from "preact/hooks";
import { useMutation } from "@urql/preact";
import { CREATE_WAREHOUSE, DELETE_WAREHOUSE, UPDATE_WAREHOUSE, errorOf, type ApiError, type Warehouse } from "../api.ts";
import { problem, type Says } from "../messages.ts";
import { Button, describedBy, errorFor, Field, FormError, Notice } from "../ui.tsx";

/** Why a warehouse cannot be deleted: the service names the warehouse (its id) as the field at fault, and says which rule in English. */
const DELETE_REFUSED: Says = {
  INVALID_INPUT: "Solo se puede eliminar una bodega sin unidades y sin pedidos abiertos que tomaron unidades de ella: traslada primero sus unidades a otra bodega.",
};

export function Warehouses({ warehouses }: { warehouses: Warehouse[] }) {
  return (
    <section class="panel" aria-labelledby="warehouses-title">
      <h2 id="warehouses-title">Bodegas</h2>
      <p class="hint">
        Los pedidos en línea toman las unidades de las bodegas que despachan, de menor a mayor prioridad. La bodega principal es la
        que se sincroniza con la bodega predeterminada de Alegra Contabilidad.
      </p>
      <ul class="warehouses">
        {warehouses.map((warehouse) => (
          <WarehouseRow key={`${warehouse.id}:${warehouse.name}:${warehouse.fulfilsOnlineOrders}:${warehouse.priority}`} warehouse={warehouse} />
        ))}
      </ul>
      <NewWarehouse />
    </section>
  );
}

function WarehouseRow({ warehouse }: { warehouse: Warehouse }) {
  const [saving, updateWarehouse] = useMutation(UPDATE_WAREHOUSE);
  const [deleting, deleteWarehouse] = useMutation(DELETE_WAREHOUSE);
  const [form, setForm] = useState({ name: warehouse.name, fulfils: warehouse.fulfilsOnlineOrders, priority: String(warehouse.priority), unreadable: false });
  const [error, setError] = useState<{ error: ApiError; says?: Says } | null>(null);
  const set = (changes: Partial<typeof form>) => setForm({ ...form, ...changes });
  const id = (field: string) => `warehouse-${warehouse.id}-${field}`;
  const fieldError = (name: string) => errorFor(error?.error ?? null, name);

  async function save(event: Event) {
    event.preventDefault();
    if (form.unreadable || !/^\d+$/.test(form.priority.trim())) return setError({ error: problem("priority", "Escribe la prioridad como un número entero entre 0 y 1000000.") });
    const outcome = await updateWarehouse({
      input: { id: warehouse.id, name: form.name.trim(), fulfilsOnlineOrders: form.fulfils, priority: Number(form.priority) },
    });
    const failure = errorOf(outcome, outcome.data?.updateWarehouse);
    setError(failure && { error: failure });
  }

  async function remove() {
    const outcome = await deleteWarehouse({ id: warehouse.id });
    const failure = errorOf(outcome, outcome.data?.deleteWarehouse);
    setError(failure && { error: failure, says: DELETE_REFUSED });
  }

  return (
    <li data-warehouse-id={warehouse.id}>
      <form class="row" onSubmit={save} aria-label={`Bodega ${warehouse.name}`} noValidate>
        <Field id={id("name")} label="Nombre" error={fieldError("name")}>
          <input {...describedBy(id("name"), fieldError("name"))} required value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />
        </Field>
        <Field id={id("priority")} label="Prioridad" error={fieldError("priority")}>
          <input {...describedBy(id("priority"), fieldError("priority"))} type="number" step={1} required value={form.priority}
            onInput={(e) => set({ priority: e.currentTarget.value, unreadable: e.currentTarget.validity.badInput })} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={form.fulfils} onChange={(e) => set({ fulfils: e.currentTarget.checked })} />
          Despacha pedidos en línea
        </label>
        <span class="tags">
          {warehouse.isMain && <span class="tag">Principal</span>}
          {warehouse.accountingId && <span class="tag">Alegra: {warehouse.accountingId}</span>}
        </span>
        <div class="actions">
          <Button busy={saving.fetching}>Guardar</Button>
          {!warehouse.isMain && (
            <Button type="button" busy={deleting.fetching} busyLabel="Eliminando…" onClick={remove}>
              Eliminar
            </Button>
          )}
        </div>
      </form>
      <FormError error={error?.error ?? null} says={error?.says} fields={["name", "priority"]} />
    </li>
  );
}

function NewWarehouse() {
  const [state, createWarehouse] = useMutation(CREATE_WAREHOUSE);
  const [form, setForm] = useState({ name: "", fulfils: false });
  const [error, setError] = useState<ApiError | null>(null);
  const [created, setCreated] = useState<string | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setCreated(null);
    const outcome = await createWarehouse({ input: { name: form.name.trim(), fulfilsOnlineOrders: form.fulfils } });
    const failure = errorOf(outcome, outcome.data?.createWarehouse);
    setError(failure);
    if (failure) return;
    setCreated(`Bodega «${form.name.trim()}» agregada.`);
    setForm({ name: "", fulfils: false });
  }

  return (
    <form class="new-warehouse" onSubmit={submit} aria-labelledby="new-warehouse-title">
      <h3 id="new-warehouse-title">Nueva bodega</h3>
      <div class="row">
        <Field id="new-warehouse-name" label="Nombre de la bodega" error={errorFor(error, "name")}>
          <input {...describedBy("new-warehouse-name", errorFor(error, "name"))} required value={form.name}
            onInput={(e) => setForm({ ...form, name: e.currentTarget.value })} />
        </Field>
        <label class="check">
          <input type="checkbox" checked={form.fulfils} onChange={(e) => setForm({ ...form, fulfils: e.currentTarget.checked })} />
          Despacha pedidos en línea
        </label>
      </div>
      <FormError error={error} fields={["name"]} />
      <Button busy={state.fetching}>Agregar bodega</Button>
      {created && <Notice>{created}</Notice>}
    </form>
  );
}
