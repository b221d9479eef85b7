/**
 * The HTML of the storefront pages. The page itself is a shell: the store's name, and the
 * containers that src/storefront/client fills. Everything inserted is HTML-escaped.
 */

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);
}

function layout(title: string, body: string, bodyAttributes = ""): string {
  return `<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/storefront/app.css">
<link rel="icon" href="data:,">
</head>
<body${bodyAttributes}>
${body}
</body>
</html>
`;
}

/** The storefront of one store; the script reads the slug from the body's data-store-slug. */
export function storefrontPage(store: { slug: string; name: string }): string {
  return layout(
    store.name,
    `<header class="store-header">
<h1>${escapeHtml(store.name)}</h1>
<p id="live-status" class="live-status" data-state="connecting"></p>
</header>
<main id="storefront"><noscript>Esta tienda necesita JavaScript para mostrar sus productos.</noscript></main>
<script type="module" src="/storefront/app.js"></script>`,
    ` data-store-slug="${escapeHtml(store.slug)}"`,
  );
}

export function storeNotFoundPage(slug: string): string {
  return layout(
    "Tienda no encontrada",
    `<main class="not-found">
<h1>Tienda no encontrada</h1>
<p>No existe ninguna tienda con la dirección «${escapeHtml(slug)}».</p>
</main>`,
  );
}
