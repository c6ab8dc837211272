// Self-host onnxruntime-web's WebAssembly runtime: copy the .mjs/.wasm pair it loads at run time into
// public/ort/ (git-ignored), from where dev, preview and the production build serve them. They must
// stay separate files: ORT starts its WASM threads from its own .mjs URL, so bundling that script into
// our worker would start copies of the engine worker instead.
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const from = resolve('node_modules/onnxruntime-web/dist');
const to = resolve('public/ort');
mkdirSync(to, { recursive: true });
// Only the JSEP pair: the engine's `import 'onnxruntime-web'` (dist/ort.min.mjs, under vite.config.ts's
// `onnxruntime-web-use-extern-wasm` condition) loads ort-wasm-simd-threaded.jsep.* for its WASM and WebGPU backends alike. The plain pair (14 MB) was copied too once, and precached by every install
// without ever being loaded; a copy left from then is removed.
const files = readdirSync(from).filter((f) => /^ort-wasm-simd-threaded\.jsep\.(wasm|mjs)$/.test(f));
for (const f of readdirSync(to)) if (/^ort-wasm-simd-threaded\.(wasm|mjs)$/.test(f)) rmSync(resolve(to, f));
for (const f of files) copyFileSync(resolve(from, f), resolve(to, f));
console.log(`copy-ort: ${files.join(', ')} -> public/ort/`);
