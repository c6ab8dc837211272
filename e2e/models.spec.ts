// Adding a real-format pack from local files: a folder with an SD export's signature (random weights,
// test/fixtures/packs, written by `python3 training/recipe.py fixtures`) is picked, copied into
// IndexedDB, becomes the active model, runs, and is still there after a reload; a damaged one is refused.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from './app-page';

const FIXTURES = resolve(process.cwd(), 'test/fixtures/packs');

test('a static-shape SD 1.5 export picked from disk runs at its one size, and stays after a reload', async ({ app, page }) => {
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(join(FIXTURES, 'sd15-static'));
  await expect(page.locator('#import-status')).toContainText('Added "Fixture: sd15-static"');
  await app.ready();
  await expect(page.locator('#model-status')).toContainText('exported for 512×512 only');
  expect(await page.locator('#width option').allTextContents()).toEqual(['512']);
  await expect(page.locator('#model option:checked')).toHaveText('Fixture: sd15-static');
  const { width, height, pixels } = await app.generate({ backend: 'wasm', steps: 2, prompt: 'an astronaut riding a horse' });
  expect([width, height]).toEqual([512, 512]);
  expect(new Set(pixels.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(20);

  await page.reload();
  await app.ready();
  await expect(page.locator('#model-status')).toContainText('Fixture: sd15-static');
  // Back to the built-in model through the list.
  await page.locator('#model').selectOption({ label: 'Shapes (stand-in SD 1.x, int8)' });
  await expect(page.locator('#model-status')).toContainText('Shapes (stand-in SD 1.x, int8) — ready on');
  expect(await page.locator('#width option').count()).toBeGreaterThan(3);
});

test('the static-shape export runs on WebGPU too: its batch-1 text encoder\'s GPU outputs are joined for the batch-2 UNet', async ({ app, page }) => {
  // onnxruntime-web fixes an output's location when the session is created; the engine keeps text
  // embeddings on the GPU, and this export's text encoder runs once per prompt, so both halves of the
  // guidance pair come back as GPU tensors that must be read back before they are joined.
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(join(FIXTURES, 'sd15-static'));
  await expect(page.locator('#import-status')).toContainText('Added "Fixture: sd15-static"');
  const { width, pixels } = await app.generate({ backend: 'webgpu', steps: 1, prompt: 'an astronaut riding a horse' });
  expect(width).toBe(512);
  expect(await app.backendInUse()).toContain('WebGPU');
  expect(new Set(pixels.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(20);
  await expect(page.locator('#error')).toBeHidden();
});

test('a layout-only fp16 export (optimum\'s) gets its manifest written from its configs and runs', async ({ app, page }) => {
  await app.set({ backend: 'wasm' });
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(join(FIXTURES, 'sd15-optimum-fp16'));
  await expect(page.locator('#import-status')).toContainText('Added "sd15-optimum-fp16"');
  await expect(page.locator('#model-status')).toContainText('sd15-optimum-fp16 — ready on WASM');
  const { width } = await app.generate({ steps: 2, width: 256, height: 256 });
  expect(width).toBe(256);
  await page.locator('#storage summary').click();
  await expect(page.locator('#pack-list li[data-pack="local-sd15-optimum-fp16"]')).toHaveAttribute('data-state', 'verified');
});

test('a folder whose file does not match its manifest is refused, and the current model stays', async ({ app, page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'pack-'));
  cpSync(join(FIXTURES, 'sd15-diffusers'), join(dir, 'sd15-diffusers'), { recursive: true });
  const damaged = join(dir, 'sd15-diffusers/text_encoder/model.onnx');
  const bytes = readFileSync(damaged);
  bytes[bytes.length - 3]! ^= 0xff;
  writeFileSync(damaged, bytes);
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(join(dir, 'sd15-diffusers'));
  await expect(page.locator('#import-status')).toContainText('Not added: text_encoder/model.onnx does not match the pack\'s manifest');
  await expect(page.locator('#model-status')).toContainText('Shapes (stand-in SD 1.x, int8) — ready on');
  await page.locator('#storage summary').click();
  await expect(page.locator('#pack-list li')).toHaveCount(1);
  expect(app.requests.filter((u) => !u.startsWith('http://127.0.0.1'))).toEqual([]);
});

test('on a GPU without shader-f16, an fp16 model is refused on WebGPU with what to do, and runs on WASM in fp32', async ({ app, page }) => {
  // SwiftShader's WebGPU adapter has no shader-f16, like Qualcomm's Adreno GPUs in Chrome. (Auto would
  // not choose it at all — it is a software renderer — so WebGPU is chosen explicitly.)
  await app.set({ backend: 'webgpu' });
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(join(FIXTURES, 'sd15-optimum-fp16'));
  await expect(page.locator('#error')).toContainText('This model\'s text encoder computes in fp16 and this GPU has no shader-f16 support: choose Auto or WASM');
  await page.locator('#backend').selectOption('auto');
  await expect(page.locator('#model-status')).toContainText('sd15-optimum-fp16 — ready on WASM');
  const { pixels } = await app.generate({ steps: 2, width: 256, height: 256 });
  expect(Math.max(...pixels.filter((_, i) => i % 4 === 0))).toBeGreaterThan(0);
  await expect(page.locator('#error')).toBeHidden();
});

test('low-memory mode loads one network at a time, is remembered, and draws the same picture', async ({ app, page }) => {
  const settings = { backend: 'wasm' as const, steps: 3, width: 256, height: 256, seed: 3, prompt: 'a red circle on a blue background' };
  const before = await app.generate(settings);
  await page.locator('#low-memory').check();
  await expect(page.locator('#model-status')).toContainText('ready on WASM');
  await page.locator('#device summary').click();
  await expect(page.locator('#device-report')).toContainText('one network loaded at a time (low memory)');
  const after = await app.generate();
  expect(after.pixels).toEqual(before.pixels);
  await page.reload();
  await app.ready();
  await expect(page.locator('#low-memory')).toBeChecked();
});
