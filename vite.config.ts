import { defaultClientConditions, defineConfig } from 'vite';

// Cross-origin isolation (COOP + COEP) lets onnxruntime-web use WASM threads (SharedArrayBuffer).
// A static host must send these two headers too.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  server: { headers: isolation },
  preview: { headers: isolation },
  // onnxruntime-web's "extern wasm" build loads its .mjs and .wasm from env.wasm.wasmPaths (self-hosted
  // under /ort/ by scripts/copy-ort.mjs) instead of carrying them inside the bundle; pre-bundling is off
  // so Vite does not move the module away from the URL it resolves things against.
  resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...defaultClientConditions] },
  worker: { format: 'es' },
  optimizeDeps: { exclude: ['onnxruntime-web'] },
  build: { target: 'es2022' },
});
