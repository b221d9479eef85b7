/** "Entrar": the store's address and its admin token, checked with the API before they are kept. */
import { useState } from "preact/hooks";
import { checkSignIn, type Session } from "../api.ts";
import { Button } from "../ui.tsx";

const REFUSED = {
  NO_STORE: { field: "slug", text: "No existe ninguna tienda con esa dirección." },
  BAD_TOKEN: { field: "token", text: "El token de administrador no es válido." },
  OTHER_STORE: { field: "token", text: "Ese token no es de esta tienda." },
  NETWORK: { field: "form", text: "No se pudo conectar con el servidor. Inténtalo de nuevo." },
} as const;

export function SignIn({ reason, onSignedIn }: { reason: string | null; onSignedIn(session: Session): void }) {
  const [slug, setSlug] = useState("");
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [refused, setRefused] = useState<keyof typeof REFUSED | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    const session = { slug: slug.trim().toLowerCase(), token: token.trim() };
    setBusy(true);
    const outcome = await checkSignIn(session);
    setBusy(false);
    if (outcome) setRefused(outcome);
    else onSignedIn(session);
  }

  const error = refused && REFUSED[refused];
  const errorOn = (field: string) =>
    error?.field === field ? (
      <p id={`${field}-error`} class="field-error" role="alert">
        {error.text}
      </p>
    ) : null;
  return (
    <main class="sign-in">
      <h1>Entrar a la consola</h1>
      {reason && <p class="form-error" role="alert">{reason}</p>}
      {/* method="post": were the script not to run, the browser would still not put the token in a URL */}
      <form method="post" onSubmit={submit}>
        <div class="field">
          <label for="slug">Dirección de la tienda</label>
          <input id="slug" name="slug" required autocomplete="off" spellcheck={false} value={slug} aria-invalid={error?.field === "slug" || undefined}
            aria-describedby={error?.field === "slug" ? "slug-error" : undefined} onInput={(e) => setSlug(e.currentTarget.value)} />
          <small class="hint">La de tu tienda pública: /store/<em>dirección</em></small>
          {errorOn("slug")}
        </div>
        <div class="field">
          <label for="token">Token de administrador</label>
          <input id="token" name="token" type="password" required autocomplete="off" value={token} aria-invalid={error?.field === "token" || undefined}
            aria-describedby={error?.field === "token" ? "token-error" : undefined} onInput={(e) => setToken(e.currentTarget.value)} />
          <small class="hint">Se guarda solo en esta pestaña y se olvida al cerrarla.</small>
          {errorOn("token")}
        </div>
        {errorOn("form")}
        <Button busy={busy} busyLabel="Comprobando…">Entrar</Button>
      </form>
    </main>
  );
}
