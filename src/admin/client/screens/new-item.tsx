/** "Nuevo producto": an item with its price, SKU and first count. */
import { useState } from "preact/hooks";
import { useMutation } from "@urql/preact";
import { CREATE_ITEM, errorOf, type ApiError, type ItemResult } from "../api.ts";
import { Button, describedBy, errorFor, Field, FormError, Title } from "../ui.tsx";

export function NewItem() {
  const [state, createItem] = useMutation<{ createItem: ItemResult }>(CREATE_ITEM);
  const [form, setForm] = useState({ name: "", type: "PRODUCT", price: "", sku: "", trackInventory: true, quantity: "0", sellWithoutStock: false });
  const [error, setError] = useState<ApiError | null>(null);
  const set = (changes: Partial<typeof form>) => setForm({ ...form, ...changes });
  const product = form.type === "PRODUCT";

  async function submit(event: Event) {
    event.preventDefault();
    const price = form.price.trim().replace(",", ".");
    if (!/^\d+(\.\d+)?$/.test(price)) {
      return setError({ code: "INVALID_INPUT", message: "escribe el precio en números, como 120000 o 19.90", field: "price" });
    }
    const tracked = product && form.trackInventory;
    const outcome = await createItem({
      input: {
        name: form.name,
        type: form.type,
        price,
        sku: form.sku.trim() || undefined,
        trackInventory: product ? form.trackInventory : undefined,
        quantity: tracked ? Number(form.quantity || 0) : undefined,
        sellWithoutStock: product ? form.sellWithoutStock : undefined,
      },
    });
    const created = outcome.data?.createItem;
    const failure = errorOf(outcome, created);
    setError(failure);
    if (!failure && created?.__typename === "Item") location.hash = `#/productos/${created.id}`;
  }

  const field = (name: string) => errorFor(error, name);
  return (
    <section>
      <p class="breadcrumb"><a href="#/productos">Productos</a></p>
      <Title>Nuevo producto</Title>
      <form class="panel" onSubmit={submit}>
        <Field id="new-name" label="Nombre" error={field("name")}>
          <input {...describedBy("new-name", field("name"))} required value={form.name} onInput={(e) => set({ name: e.currentTarget.value })} />
        </Field>
        <Field id="new-type" label="Tipo" error={field("type")}>
          <select {...describedBy("new-type", field("type"))} value={form.type} onChange={(e) => set({ type: e.currentTarget.value })}>
            <option value="PRODUCT">Producto</option>
            <option value="SERVICE">Servicio</option>
          </select>
        </Field>
        <div class="row">
          <Field id="new-price" label="Precio" error={field("price")}>
            <input {...describedBy("new-price", field("price"))} required inputMode="decimal" value={form.price}
              onInput={(e) => set({ price: e.currentTarget.value })} />
          </Field>
          <Field id="new-sku" label="SKU (referencia en Alegra Contabilidad)" error={field("sku")}>
            <input {...describedBy("new-sku", field("sku"))} value={form.sku} onInput={(e) => set({ sku: e.currentTarget.value })} />
          </Field>
        </div>
        {product && (
          <fieldset>
            <legend>Inventario</legend>
            <label class="check">
              <input type="checkbox" checked={form.trackInventory} onChange={(e) => set({ trackInventory: e.currentTarget.checked })} />
              Registrar cantidad disponible
            </label>
            {form.trackInventory && (
              <Field id="new-quantity" label="Cantidad inicial" error={field("quantity")}>
                <input {...describedBy("new-quantity", field("quantity"))} type="number" step={1} value={form.quantity}
                  onInput={(e) => set({ quantity: e.currentTarget.value })} />
              </Field>
            )}
            <label class="check">
              <input type="checkbox" checked={form.sellWithoutStock} onChange={(e) => set({ sellWithoutStock: e.currentTarget.checked })} />
              Vender sin Stock
            </label>
          </fieldset>
        )}
        <FormError error={error} fields={["name", "type", "price", "sku", "quantity"]} />
        <Button busy={state.fetching} busyLabel="Creando…">Crear producto</Button>
      </form>
    </section>
  );
}
