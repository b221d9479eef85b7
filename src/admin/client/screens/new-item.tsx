/**
 * "Nuevo producto": an item with its price, SKU and first count; or, with options ("Talla": S, M,
 * L), the combinations it is sold in, each with its own SKU, price and first count.
 */
import { useState } from "preact/hooks";
import { useMutation } from "@urql/preact";
import { CREATE_ITEM, errorOf, type ApiError, type ItemResult } from "../api.ts";
import { problem } from "../messages.ts";
import { Button, describedBy, ErrorMessage, errorFor, Field, FormError, Title } from "../ui.tsx";

const MAX_OPTIONS = 3;

type Option = { name: string; values: string };
type VariantForm = { sell: boolean; sku: string; price: string; quantity: string };
type Combination = { key: string; options: { name: string; value: string }[] };

/** The options the merchant filled in, with their comma-separated values split. */
function optionsOf(options: Option[]) {
  return options
    .map((option) => ({ name: option.name.trim(), values: option.values.split(",").map((value) => value.trim()).filter(Boolean) }))
    .filter((option) => option.name && option.values.length > 0);
}

/** Every combination of the options' values, in the merchant's order. */
function combinationsOf(options: { name: string; values: string[] }[]): Combination[] {
  if (options.length === 0) return [];
  return options.reduce<Combination[]>(
    (combinations, option) =>
      combinations.flatMap((combination) =>
        option.values.map((value) => ({
          key: combination.key ? `${combination.key} / ${value}` : value,
          options: [...combination.options, { name: option.name, value }],
        })),
      ),
    [{ key: "", options: [] }],
  );
}

const decimal = (text: string) => text.trim().replace(",", ".");
const isDecimal = (text: string) => /^\d+(\.\d+)?$/.test(text);
const isWhole = (text: string) => /^\d+$/.test(text.trim());

export function NewItem() {
  const [state, createItem] = useMutation<{ createItem: ItemResult }>(CREATE_ITEM);
  const [form, setForm] = useState({ name: "", type: "PRODUCT", price: "", sku: "", trackInventory: true, quantity: "0", sellWithoutStock: false });
  const [options, setOptions] = useState<Option[]>([]);
  const [variants, setVariants] = useState<Record<string, VariantForm>>({});
  const [sent, setSent] = useState<string[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const set = (changes: Partial<typeof form>) => setForm({ ...form, ...changes });
  const product = form.type === "PRODUCT";
  const tracked = product && form.trackInventory;
  const combinations = product ? combinationsOf(optionsOf(options)) : [];
  const variantOf = (key: string): VariantForm => variants[key] ?? { sell: true, sku: "", price: "", quantity: "0" };
  const setVariant = (key: string, changes: Partial<VariantForm>) => setVariants({ ...variants, [key]: { ...variantOf(key), ...changes } });
  const setOption = (index: number, changes: Partial<Option>) => setOptions(options.map((o, i) => (i === index ? { ...o, ...changes } : o)));

  async function submit(event: Event) {
    event.preventDefault();
    const price = decimal(form.price);
    if (!isDecimal(price)) return setError(problem("price", "Escribe el precio en números, como 120000 o 19.90."));
    const selling = combinations.filter((combination) => variantOf(combination.key).sell);
    if (combinations.length > 0 && selling.length === 0) {
      return setError(problem("variants", "Elige al menos una combinación para vender."));
    }
    const badPrice = selling.findIndex((c) => variantOf(c.key).price && !isDecimal(decimal(variantOf(c.key).price)));
    if (badPrice >= 0) {
      setSent(selling.map((c) => c.key));
      return setError(problem(`variants.${badPrice}.price`, "Escribe el precio en números, como 120000 o 19.90."));
    }
    const badQuantity = tracked ? selling.findIndex((c) => !isWhole(variantOf(c.key).quantity || "0")) : -1;
    setSent(selling.map((c) => c.key));
    if (badQuantity >= 0) return setError(problem(`variants.${badQuantity}.quantity`, "Escribe la cantidad inicial en números enteros, como 5 o 0."));
    const outcome = await createItem({
      input: {
        name: form.name,
        type: form.type,
        price,
        sku: form.sku.trim() || undefined,
        trackInventory: product ? form.trackInventory : undefined,
        sellWithoutStock: product ? form.sellWithoutStock : undefined,
        ...(selling.length > 0
          ? {
              options: optionsOf(options),
              variants: selling.map((combination) => {
                const variant = variantOf(combination.key);
                return {
                  options: combination.options,
                  sku: variant.sku.trim() || undefined,
                  price: variant.price ? decimal(variant.price) : undefined,
                  quantity: tracked ? Number(variant.quantity || 0) : undefined,
                };
              }),
            }
          : { quantity: tracked ? Number(form.quantity || 0) : undefined }),
      },
    });
    const created = outcome.data?.createItem;
    const failure = errorOf(outcome, created);
    setError(failure);
    if (!failure && created?.__typename === "Item") location.hash = `#/productos/${created.id}`;
  }

  const variantFields: (keyof Omit<VariantForm, "sell">)[] = tracked ? ["sku", "price", "quantity"] : ["sku", "price"];
  const field = (name: string) => errorFor(error, name);
  /** The error of a field of the combination `key`, as the API names it: variants.<index sent>.<field>. */
  const variantField = (key: string, name: string) => (sent.includes(key) ? errorFor(error, `variants.${sent.indexOf(key)}.${name}`) : null);
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
            {tracked && combinations.length === 0 && (
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
        {product && (
          <fieldset>
            <legend>Opciones (talla, color…)</legend>
            {options.map((option, index) => (
              <div class="row" key={index}>
                <Field id={`option-${index}-name`} label={`Nombre de la opción ${index + 1}`} error={null}>
                  <input id={`option-${index}-name`} placeholder="Talla" value={option.name} onInput={(e) => setOption(index, { name: e.currentTarget.value })} />
                </Field>
                <Field id={`option-${index}-values`} label={`Valores de la opción ${index + 1}, separados por comas`} error={null}>
                  <input id={`option-${index}-values`} placeholder="S, M, L" value={option.values}
                    onInput={(e) => setOption(index, { values: e.currentTarget.value })} />
                </Field>
                <button type="button" onClick={() => setOptions(options.filter((_, i) => i !== index))}>Quitar</button>
              </div>
            ))}
            {field("options") && <ErrorMessage error={field("options")!} />}
            {options.length < MAX_OPTIONS && (
              <button type="button" onClick={() => setOptions([...options, { name: "", values: "" }])}>Agregar opción</button>
            )}
            {combinations.length > 0 && (
              <table class="variants">
                <thead>
                  <tr>
                    <th scope="col">Vender</th>
                    <th scope="col">Variante</th>
                    <th scope="col">SKU</th>
                    <th scope="col">Precio (vacío: el del producto)</th>
                    {tracked && <th scope="col">Cantidad inicial</th>}
                  </tr>
                </thead>
                <tbody>
                  {combinations.map((combination) => {
                    const variant = variantOf(combination.key);
                    const id = (name: string) => `variant-${combination.key.replace(/\W+/g, "-")}-${name}`;
                    return (
                      <tr key={combination.key}>
                        <td>
                          <input type="checkbox" aria-label={`Vender ${combination.key}`} checked={variant.sell}
                            onChange={(e) => setVariant(combination.key, { sell: e.currentTarget.checked })} />
                        </td>
                        <td>{combination.key}</td>
                        {variantFields.map((name) => {
                          const fieldError = variantField(combination.key, name) ?? (name === "sku" ? variantField(combination.key, "options") : null);
                          const label = { sku: "SKU", price: "Precio", quantity: "Cantidad inicial" }[name];
                          return (
                            <td key={name}>
                              <input {...describedBy(id(name), fieldError)} aria-label={`${label} de ${combination.key}`} disabled={!variant.sell}
                                inputMode={name === "sku" ? "text" : name === "price" ? "decimal" : "numeric"} value={variant[name]}
                                onInput={(e) => setVariant(combination.key, { [name]: e.currentTarget.value })} />
                              {fieldError && <ErrorMessage id={`${id(name)}-error`} error={fieldError} />}
                            </td>
                          );
                        })}
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </fieldset>
        )}
        <FormError error={error} fields={["name", "type", "price", "sku", "quantity", "options", ...sent.map((_, i) => `variants.${i}`)]} />
        <Button busy={state.fetching} busyLabel="Creando…">Crear producto</Button>
      </form>
    </section>
  );
}
