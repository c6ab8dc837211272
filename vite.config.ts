import { defaultClientConditions, defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

// Cross-origin isolation (COOP + COEP) lets onnxruntime-web use WASM threads (SharedArrayBuffer).
// A static host must send these two headers too (README: "Hosting"); responses the service worker
// serves from its cache keep the headers they were fetched with.
const isolation = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

const MiB = 1024 * 1024;

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
  plugins: [
    VitePWA({
      // 'prompt': a new version waits for the person's "Reload" (src/ui/pwa.ts), never cutting off a run.
      registerType: 'prompt',
      injectRegister: false,
      includeAssets: ['icon.svg', 'icons/apple-touch-icon-180.png'],
      manifest: {
        id: '/',
        name: 'Pocket Diffusion',
        short_name: 'Pocket Diffusion',
        description: 'Text to image on your own device, with the network off: Stable Diffusion’s pipeline on WebGPU.',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        orientation: 'any',
        theme_color: '#14161c',
        background_color: '#14161c',
        categories: ['graphics', 'productivity'],
        icons: [
          { src: 'icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: 'icons/icon-maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
        screenshots: [
          { src: 'screenshots/wide.png', sizes: '1280x800', type: 'image/png', form_factor: 'wide', label: 'A picture generated on the built-in model' },
          { src: 'screenshots/narrow.png', sizes: '390x844', type: 'image/png', form_factor: 'narrow', label: 'A picture generated on a phone' },
        ],
      },
      workbox: {
        // The app shell and the onnxruntime-web runtime it loads; never the weights, which live in
        // IndexedDB (src/store), so a model is stored once, verified, and not duplicated in a cache.
        globPatterns: ['**/*.{js,css,html,svg,png,webmanifest}', 'ort/*.{mjs,wasm}'],
        globIgnores: ['models/**'],
        maximumFileSizeToCacheInBytes: 40 * MiB,
        navigateFallback: 'index.html',
        navigateFallbackDenylist: [/^\/models\//],
        cleanupOutdatedCaches: true,
      },
    }),
  ],
});
