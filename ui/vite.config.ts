import { defineConfig } from "vite";

// `npm run dev` against a running hub in a browser: HEARTH_URL=http://127.0.0.1:8470 npm run dev,
// then open the hub's sign-in link with its host replaced by localhost:5173. The API, the event
// stream and /login are forwarded; the hub only accepts event streams from its own origin, so
// the proxy presents the hub's origin. (In the desktop shell, `tauri dev` uses IPC: no proxy.)
const hub = process.env.HEARTH_URL;

// The hub serves ui/dist at "/" under a strict CSP (script-src 'self'; style-src 'self'):
// everything must end up in files under assets/, nothing inline.
export default defineConfig({
  base: "/",
  // Tauri's `devUrl` points at this port; fail rather than silently pick another.
  server: {
    port: 5173,
    strictPort: true,
    proxy: hub
      ? {
          "/api": {
            target: hub,
            changeOrigin: true,
            ws: true,
            configure: (proxy) => proxy.on("proxyReqWs", (req) => req.setHeader("origin", hub)),
          },
          "/login": { target: hub, changeOrigin: true },
        }
      : undefined,
  },
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
