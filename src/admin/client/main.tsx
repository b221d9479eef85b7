/**
 * The merchant's console (bundled by src/admin/bundle.ts): sign in with the store's admin token,
 * then Productos, Pedidos, Stock bajo, Reservas and Configuración -> Inventario, every screen through the public
 * GraphQL API (api.ts). Screens live in the URL's fragment (#/productos/<id>...), so that the
 * browser's back button and links work without the server knowing the screens.
 */
import "./styles.css";
import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import { Provider, useClient, useQuery } from "@urql/preact";
import { createApi, LOW_STOCK_ALERTS_ADDED, STOCK_UPDATES, STORE, type LowStockAlert, type Session, type StockUpdate, type StoreData } from "./api.ts";
import { variantLabel } from "./labels.ts";
import { publishAlert, publishResync, publishUpdate, useLowStockAlerts } from "./live.ts";
import { focusTitleOnArrival } from "./ui.tsx";
import { forgetSession, readSession, saveSession } from "./session.ts";
import { SignIn } from "./screens/sign-in.tsx";
import { Products } from "./screens/products.tsx";
import { NewItem } from "./screens/new-item.tsx";
import { InventoryImport } from "./screens/inventory-import.tsx";
import { ItemScreen } from "./screens/item.tsx";
import { Orders } from "./screens/orders.tsx";
import { OrderScreen } from "./screens/order.tsx";
import { Settings } from "./screens/settings.tsx";
import { LowStock } from "./screens/low-stock.tsx";
import { Reservations } from "./screens/reservations.tsx";

type LiveState = "connecting" | "live" | "reconnecting";

function App() {
  const [session, setSession] = useState(readSession);
  const [signedOutBecause, setSignedOutBecause] = useState<string | null>(null);
  const [live, setLive] = useState<LiveState>("connecting");

  const signOut = (reason: string | null) => {
    forgetSession();
    setSession(null);
    setSignedOutBecause(reason);
  };
  const api = useMemo(
    () =>
      session &&
      createApi(session, {
        onAuthLost: () => signOut("El token ya no es válido para esta tienda. Entra de nuevo."),
        // whatever changed before the socket was (again) up was not pushed: the screens re-read
        onLive: (state) => {
          setLive(state);
          if (state === "live") publishResync();
        },
      }),
    [session],
  );
  useEffect(() => () => api?.close(), [api]);

  if (!session || !api) {
    return (
      <SignIn
        reason={signedOutBecause}
        onSignedIn={(entered: Session) => {
          saveSession(entered);
          setLive("connecting");
          setSession(entered);
        }}
      />
    );
  }
  return (
    <Provider value={api.client}>
      <Shell slug={session.slug} live={live} onSignOut={() => signOut(null)} />
    </Provider>
  );
}

function Shell({ slug, live, onSignOut }: { slug: string; live: LiveState; onSignOut(): void }) {
  const route = useRoute();
  const [store] = useQuery<StoreData>({ query: STORE, variables: { slug } });
  // handed to the screens showing each item, without a state of the shell's own: a burst of
  // updates (a bulk count of 250) would otherwise render every screen once per update
  useLive<{ stockUpdates: StockUpdate }>(STOCK_UPDATES, slug, (data) => publishUpdate(data.stockUpdates));
  useLive<{ lowStockAlertsAdded: LowStockAlert }>(LOW_STOCK_ALERTS_ADDED, slug, (data) => publishAlert(data.lowStockAlertsAdded));
  const [lastAlerts, setLastAlerts] = useState<LowStockAlert[]>([]);
  useLowStockAlerts(setLastAlerts);
  const settings = store.data?.store?.inventorySettings;

  const [section, id] = route;
  return (
    <>
      <header class="top">
        <p class="store-name">{store.data?.store?.name ?? slug}</p>
        <nav aria-label="Secciones">
          <a href="#/productos" aria-current={section === "productos" ? "page" : undefined}>Productos</a>
          <a href="#/pedidos" aria-current={section === "pedidos" ? "page" : undefined}>Pedidos</a>
          <a href="#/stock-bajo" aria-current={section === "stock-bajo" ? "page" : undefined}>Stock bajo</a>
          <a href="#/reservas" aria-current={section === "reservas" ? "page" : undefined}>Reservas</a>
          <a href="#/configuracion/inventario" aria-current={section === "configuracion" ? "page" : undefined}>Configuración</a>
        </nav>
        <p class="live-status" data-state={live} role="status">
          {live === "live" ? "En vivo" : live === "connecting" ? "Conectando…" : "Sin conexión en vivo: reintentando…"}
        </p>
        <button type="button" class="link-button" onClick={onSignOut}>
          Salir
        </button>
      </header>
      {lastAlerts.length > 0 && <AlertNotice alerts={lastAlerts} onDismiss={() => setLastAlerts([])} />}
      <main>
        {section === "stock-bajo" ? (
          <LowStock storeThreshold={settings?.lowStockThreshold} />
        ) : section === "reservas" ? (
          <Reservations />
        ) : section === "pedidos" && id ? (
          <OrderScreen id={id} accountingSync={settings?.accountingSync ?? false} />
        ) : section === "pedidos" ? (
          <Orders />
        ) : section === "configuracion" ? (
          <Settings slug={slug} />
        ) : section === "productos" && id === "nuevo" ? (
          <NewItem />
        ) : section === "productos" && id === "importar" ? (
          <InventoryImport slug={slug} />
        ) : section === "productos" && id ? (
          <ItemScreen id={id} accountingSync={settings?.accountingSync ?? false} storeThreshold={settings?.lowStockThreshold ?? null} />
        ) : (
          <Products />
        )}
      </main>
    </>
  );
}

/** One of the shell's subscriptions, each message handed to `publish` while the shell is shown. */
function useLive<T>(query: string, slug: string, publish: (data: T) => void) {
  const client = useClient();
  useEffect(() => client.subscription<T>(query, { slug }).subscribe((result) => result.data && publish(result.data)).unsubscribe, [client, slug]);
}

/** The low-stock alerts that just arrived, at the top of every screen until dismissed. */
function AlertNotice({ alerts, onDismiss }: { alerts: LowStockAlert[]; onDismiss(): void }) {
  const [first] = alerts;
  const name = (alert: LowStockAlert) => `${alert.item.name}${alert.variant.options.length ? ` (${variantLabel(alert.variant.options)})` : ""}`;
  return (
    <div class="alert-notice" role="status">
      <p>
        <strong>Stock bajo:</strong> <a href={`#/productos/${first!.item.id}`}>{name(first!)}</a>, quedan {first!.availableQuantity}
        {alerts.length > 1 && <> y {alerts.length - 1} más (<a href="#/stock-bajo">ver la lista</a>)</>}.
      </p>
      <button type="button" class="link-button" onClick={onDismiss}>Cerrar</button>
    </div>
  );
}

/** The screen's path from the URL's fragment: "#/productos/12" -> ["productos", "12"]. */
function useRoute(): string[] {
  const read = () => location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeSafely);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const onChange = () => {
      focusTitleOnArrival();
      setRoute(read());
    };
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route.length ? route : ["productos"];
}

function decodeSafely(part: string) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

const root = document.getElementById("admin")!;
root.replaceChildren();
render(<App />, root);
