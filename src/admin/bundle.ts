import { fileURLToPath } from "node:url";
import { browserBundle } from "../http/browser-bundle.ts";

/** The console's script and stylesheet (`app.js`, `app.css`), built from src/admin/client (Preact) on first use. */
export const adminAssets = browserBundle(fileURLToPath(new URL("./client/main.tsx", import.meta.url)), {
  jsx: "automatic",
  jsxImportSource: "preact",
  define: { "process.env.NODE_ENV": '"production"' },
});
