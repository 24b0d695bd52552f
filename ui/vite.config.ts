import { defineConfig } from "vite";

// The hub serves ui/dist at "/" under a strict CSP (script-src 'self'; style-src 'self'):
// everything must end up in files under assets/, nothing inline.
export default defineConfig({
  base: "/",
  // Tauri's `devUrl` points at this port; fail rather than silently pick another.
  server: { port: 5173, strictPort: true },
  clearScreen: false,
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Never inline assets as data: URLs into CSS/JS; the CSP allows them for images only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: "es2022",
  },
});
