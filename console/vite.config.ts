/** The console's build: served by the Worker under /console/ from dist/console (wrangler.toml [assets]). */
import { resolve } from "node:path";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  root: import.meta.dirname,
  base: "/console/",
  plugins: [react()],
  build: {
    outDir: resolve(import.meta.dirname, "../dist/console"),
    emptyOutDir: true,
  },
  // `npx vite console` during development: the API is the engine of `npm start`.
  server: { proxy: { "/organizations": "http://127.0.0.1:8787" } },
});
