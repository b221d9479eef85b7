/** The pieces every screen uses: badges, buttons that show work in progress, fields with their errors, pages. */
import type { ButtonHTMLAttributes, ComponentChildren } from "preact";
import { useEffect, useRef, useState } from "preact/hooks";
import type { ApiError, Availability, PageInfo } from "./api.ts";
import { AVAILABILITY } from "./labels.ts";
import { errorDetail, errorText, type Says } from "./messages.ts";

export function Badge({ availability }: { availability: Availability }) {
  return <span class={`badge badge-${availability.toLowerCase().replace("_", "-")}`}>{AVAILABILITY[availability]}</span>;
}

/** "Stock bajo": the variant (or one of the item's variants) is at or below its low-stock threshold. */
export function LowStockBadge({ low }: { low: boolean }) {
  return low ? <span class="badge badge-low-stock">Stock bajo</span> : null;
}

export function Spinner({ label }: { label: string }) {
  return <span class="spinner" role="status" aria-label={label} />;
}

/** A button that, while its work runs, is disabled and shows a spinner and `busyLabel`. */
export function Button({ busy = false, busyLabel, children, ...props }: ButtonHTMLAttributes<HTMLButtonElement> & { busy?: boolean; busyLabel?: string }) {
  return (
    <button type="submit" {...props} disabled={busy || Boolean(props.disabled)} aria-busy={busy}>
      {busy && <Spinner label={busyLabel ?? "Guardando…"} />}
      {busy && busyLabel ? busyLabel : children}
    </button>
  );
}

/** The error of `error` that belongs to the input field `field` ("sku", "variants.0.sku"...), if any. */
export function errorFor(error: ApiError | null, field: string): ApiError | null {
  const at = error?.field;
  return at && (at === field || at.startsWith(`${field}.`)) ? error : null;
}

/** The attributes that tie an input to its label's id and to its error. */
export function describedBy(id: string, error: ApiError | null) {
  return { id, "aria-invalid": error ? ("true" as const) : undefined, "aria-describedby": error ? `${id}-error` : undefined };
}

/**
 * An error in the merchant's words (messages.ts), with the service's English detail only as its
 * title. `id` ties it to its input (aria-describedby).
 */
export function ErrorMessage({ error, says, id, class: className = "field-error" }: { error: ApiError; says?: Says; id?: string; class?: string }) {
  return (
    <p id={id} class={className} role="alert" title={errorDetail(error)}>
      {errorText(error, says)}
    </p>
  );
}

/** A labelled input with, under it, the API's error for it in words. */
export function Field({ id, label, error, says, hint, children }: { id: string; label: string; error: ApiError | null; says?: Says; hint?: string; children: ComponentChildren }) {
  return (
    <div class={`field${error ? " field-invalid" : ""}`}>
      <label for={id}>{label}</label>
      {children}
      {hint && <small class="hint">{hint}</small>}
      {error && <ErrorMessage id={`${id}-error`} error={error} says={says} />}
    </div>
  );
}

/** An error that belongs to none of the form's fields, shown at the form's foot. */
export function FormError({ error, says, fields = [] }: { error: ApiError | null; says?: Says; fields?: string[] }) {
  if (!error || fields.some((field) => errorFor(error, field))) return null;
  return <ErrorMessage class="form-error" error={error} says={says} />;
}

/** What an action did; `nothing` when it changed nothing (said in a neutral tone, not as a success). */
export function Notice({ children, nothing = false }: { children: ComponentChildren; nothing?: boolean }) {
  return (
    <p class={nothing ? "notice notice-nothing" : "notice"} role="status">
      {children}
    </p>
  );
}

/** Cursor pages: the cursors of the pages before this one, so "Anterior" can go back. */
export function usePager() {
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  return {
    after: cursors[cursors.length - 1]!,
    number: cursors.length,
    next: (endCursor: string | null) => setCursors([...cursors, endCursor]),
    previous: () => setCursors(cursors.slice(0, -1)),
    reset: () => setCursors([null]),
  };
}
export type Pager = ReturnType<typeof usePager>;

export function PagerNav({ pager, pageInfo, label }: { pager: Pager; pageInfo: PageInfo | undefined; label: string }) {
  if (!pageInfo || (pager.number === 1 && !pageInfo.hasNextPage)) return null;
  return (
    <nav class="pager" aria-label={label}>
      <button type="button" disabled={pager.number === 1} onClick={pager.previous}>
        Anterior
      </button>
      <span>Página {pager.number}</span>
      <button type="button" disabled={!pageInfo.hasNextPage} onClick={() => pager.next(pageInfo.endCursor)}>
        Siguiente
      </button>
    </nav>
  );
}

export function Loading() {
  return (
    <p class="loading">
      <Spinner label="Cargando" /> Cargando…
    </p>
  );
}

let focusNextTitle = false;

/** After a move to another screen, its title takes the focus once it shows (see Title). */
export function focusTitleOnArrival() {
  focusNextTitle = true;
}

/**
 * A screen's title. A keyboard or screen reader user who follows a link lands on the new
 * screen's title, not at the top of the page or on a link that is gone.
 */
export function Title({ children, class: className }: { children: ComponentChildren; class?: string }) {
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    if (!focusNextTitle) return;
    focusNextTitle = false;
    title.current?.focus();
  }, []);
  return (
    <h1 ref={title} tabIndex={-1} class={className}>
      {children}
    </h1>
  );
}
