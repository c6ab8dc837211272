// Storing an added export as int8 on the device (src/store/quantize-import.ts) in a real Chromium with a
// real IndexedDB: an fp16 export is quantized as it is read, runs on WASM with what the fp16 original
// draws, and runs on a WebGPU adapter without shader-f16 (refused there in fp16: models.spec.ts) — the
// phone case; a damaged folder is refused and nothing of it is kept.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { psnr } from '../test/image-checks';
import { expect, test } from './app-page';

const FIXTURES = resolve(process.cwd(), 'test/fixtures/packs');
const SAME = { steps: 2, width: 256, height: 256, seed: 5, scheduler: 'ddim', prompt: 'a red circle on a blue background' } as const;

test('an fp16 export stored as int8 draws what the fp16 original draws on WASM, and runs on WebGPU without shader-f16', async ({ app, page }) => {
  test.setTimeout(240_000);
  await app.set({ backend: 'wasm' });
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(join(FIXTURES, 'sd15-optimum-fp16'));
  await expect(page.locator('#import-status')).toContainText('Added "sd15-optimum-fp16"');
  const fp16 = await app.generate(SAME);

  await page.locator('#import-int8').check();
  await page.locator('#import-folder').setInputFiles(join(FIXTURES, 'sd15-optimum-fp16'));
  await expect(page.locator('#import-status')).toContainText('Added "sd15-optimum-fp16 (int8)"');
  await expect(page.locator('#model-status')).toContainText('sd15-optimum-fp16 (int8) — ready on WASM');
  const int8 = await app.generate(SAME);
  expect([int8.width, int8.height]).toEqual([256, 256]);
  expect(psnr(Uint8ClampedArray.from(fp16.pixels), Uint8ClampedArray.from(int8.pixels))).toBeGreaterThan(30);

  await page.locator('#storage summary').click();
  await expect(page.locator('#pack-list li[data-pack="local-sd15-optimum-fp16-int8"]')).toHaveAttribute('data-state', 'verified');
  // The int8 copy computes in float32: WebGPU takes it although SwiftShader has no shader-f16.
  const gpu = await app.generate({ ...SAME, backend: 'webgpu', steps: 1 });
  expect(gpu.width).toBe(256);
  expect(await app.backendInUse()).toContain('WebGPU');
  await expect(page.locator('#error')).toBeHidden();
  // Nothing left the machine (blob: URLs are the page's own pictures).
  expect(app.requests.filter((u) => !u.startsWith('http://127.0.0.1') && !u.startsWith('blob:'))).toEqual([]);
});

test('a damaged folder to be stored as int8 is refused with the file named, and nothing of it is kept', async ({ app, page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'pack-'));
  cpSync(join(FIXTURES, 'sd15-diffusers'), join(dir, 'sd15-diffusers'), { recursive: true });
  const damaged = join(dir, 'sd15-diffusers/unet/weights.pb');
  const bytes = readFileSync(damaged);
  bytes[bytes.length >> 1]! ^= 0xff;
  writeFileSync(damaged, bytes);
  await page.locator('#add-model > summary').click();
  await page.locator('#import-int8').check();
  await page.locator('#import-folder').setInputFiles(join(dir, 'sd15-diffusers'));
  await expect(page.locator('#import-status')).toContainText('Not added: unet/weights.pb does not match the pack\'s manifest');
  await expect(page.locator('#model-status')).toContainText('Shapes (stand-in SD 1.x, int8) — ready on');
  await page.locator('#storage summary').click();
  await expect(page.locator('#pack-list li')).toHaveCount(1);
  const left = await page.evaluate(() => new Promise<string[]>((done, fail) => {
    const open = indexedDB.open('pocket-diffusion-weights');
    open.onerror = () => fail(open.error);
    open.onsuccess = () => {
      const req = open.result.transaction('kv').objectStore('kv').getAllKeys();
      req.onsuccess = () => done((req.result as string[]).filter((k) => String(k).includes('int8') && String(k).includes('sd15-diffusers')));
    };
  }));
  expect(left).toEqual([]);
  await app.generate({ steps: 2, width: 256, height: 256 });
});
