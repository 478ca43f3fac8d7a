// Builds the app into dist/, which the API serves at `/`. `npm run dev` serves it with hot reload
// and sends the API's paths to a running `label-ledger up` (LABEL_LEDGER_API, default port 8000).
import react from "@vitejs/plugin-react";
import { defineConfig, loadEnv } from "vite";

const API_PATHS = ["/v1", "/docs", "/openapi.json", "/swagger", "/media"];

export default defineConfig(({ mode }) => {
  const api = loadEnv(mode, ".", "LABEL_LEDGER_").LABEL_LEDGER_API ?? "http://127.0.0.1:8000";
  return {
    plugins: [react()],
    build: {
      outDir: "dist",
      emptyOutDir: true,
      // A chunk past this would blow the workspace's budget (issue 13: <= 300 kB gzip in all).
      chunkSizeWarningLimit: 600,
    },
    server: { proxy: Object.fromEntries(API_PATHS.map((path) => [path, api])) },
  };
});
