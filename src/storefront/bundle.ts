import { fileURLToPath } from "node:url";
import { browserBundle } from "../http/browser-bundle.ts";

/** The storefront's script and stylesheet (`app.js`, `app.css`), built from src/storefront/client on first use. */
export const storefrontAssets = browserBundle(fileURLToPath(new URL("./client/main.ts", import.meta.url)));
