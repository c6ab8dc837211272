// Adding a model from an address: a repository in the diffusers ONNX layout (no manifest.json), served
// over real HTTP by the preview server, with a catalog entry chosen. Its manifest is written from its
// configs, every file is downloaded with progress and its SHA-256 pinned, and it runs on WebGPU.
import { cpSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, test } from './app-page';

const SERVED = resolve(process.cwd(), 'dist/e2e-packs/sd21-layout');

test.beforeAll(() => {
  // The production build is served from dist/: put a layout-only copy of the SD 2.1-base fixture there.
  rmSync(SERVED, { recursive: true, force: true });
  cpSync(resolve(process.cwd(), 'test/fixtures/packs/sd21-base'), SERVED, { recursive: true });
  rmSync(resolve(SERVED, 'manifest.json'));
});
test.afterAll(() => rmSync(resolve(process.cwd(), 'dist/e2e-packs'), { recursive: true, force: true }));

test('an SD 2.1-base repository layout added by its address downloads, pins its hashes and runs on WebGPU', async ({ app, page }) => {
  await app.set({ backend: 'webgpu' }); // chosen: Auto passes over this machine's software adapter
  await page.locator('#add-model > summary').click();
  await page.locator('[data-catalog="sd-2.1-base"] button').click();
  await expect(page.locator('#pack-kind')).toHaveValue('sd-2.1-base');
  await expect(page.locator('[data-catalog="sd-2.1-base"] [data-variant="fp16"]')).toContainText('Can this device run it? no');
  await page.locator('#pack-url').fill(`${new URL(page.url()).origin}/e2e-packs/sd21-layout/`);
  await page.locator('#pack-url-add').click();
  // Before the first byte: this machine (a software GPU, WASM's 4 GB) cannot run the real model; asked again.
  await expect(page.locator('#import-status')).toContainText('This device probably cannot run Stable Diffusion 2.1-base');
  expect(app.requests.filter((u) => u.includes('/e2e-packs/'))).toEqual([]);
  await page.locator('#pack-url-add').click();
  await expect(page.locator('#import-status')).toContainText('Added "Stable Diffusion 2.1-base"');
  await expect(page.locator('#model-status')).toContainText('Stable Diffusion 2.1-base — ready on WebGPU');
  const files = app.requests.filter((u) => u.includes('/e2e-packs/') && u.endsWith('.onnx'));
  expect(files.length).toBeGreaterThanOrEqual(3);
  const stored = await page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((ok, no) => { const r = indexedDB.open('pocket-diffusion-weights'); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
    const pack = await new Promise<{ manifest: { files: { path: string; sha256: string }[] } }>((ok) => {
      const r = db.transaction('kv').objectStore('kv').get('pack/sd-2.1-base');
      r.onsuccess = () => ok(r.result);
    });
    return pack.manifest.files;
  });
  expect(stored.length).toBe(7);
  for (const f of stored) expect(f.sha256, f.path).toMatch(/^[0-9a-f]{64}$/);

  const { width, height, pixels } = await app.generate({ steps: 2, width: 256, height: 256 });
  expect([width, height]).toEqual([256, 256]);
  expect(new Set(pixels.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(20);
  await expect(page.locator('#error')).toBeHidden();

  // Back online or not, a reload runs it from IndexedDB without fetching a weight again.
  const before = app.requests.length;
  await page.reload();
  await app.ready();
  await expect(page.locator('#model-status')).toContainText('Stable Diffusion 2.1-base');
  expect(app.requests.slice(before).filter((u) => u.includes('/e2e-packs/'))).toEqual([]);
});
