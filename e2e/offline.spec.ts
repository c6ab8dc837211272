// Airplane mode for real: the weight store in IndexedDB and the installable, offline PWA, in a real
// Chromium against the production build. Each test starts from a fresh browser profile.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { chromium, type Page, type Request } from '@playwright/test';
import { AppPage, expect, test as base } from './app-page';

const PACK = '/models/shapes-int8/';
const UNET = `**${PACK}unet/model.onnx`;
const TEXT_ENCODER = `**${PACK}text_encoder/model.onnx`;
const CHUNK_BYTES = 4 * 1024 * 1024;

const isWeight = (url: string) => url.includes(PACK) && !url.endsWith('manifest.json');

/** Records every text the download progress line shows, from the first paint on. */
async function recordProgress(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const log: string[] = [];
    (window as unknown as { progressLog: string[] }).progressLog = log;
    new MutationObserver(() => {
      const t = document.getElementById('pack-progress-text')?.textContent;
      if (t && log.at(-1) !== t) log.push(t);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
}

const test = base.extend<{ fresh: AppPage }>({
  fresh: async ({ page }, use) => {
    await use(new AppPage(page));
  },
});

test('first visit downloads and verifies the pack with progress; a reload fetches no weights', async ({ fresh: app, page }) => {
  await recordProgress(page);
  // onnxruntime-web starts beside the download (the worker's warm-up), not after it: the UNet's file is held
  // until ORT's .wasm has been asked for (with no warm-up it is asked for once the pack is stored: never, here)
  const wasmAsked = page.waitForRequest(/\/ort\/[^/]+\.wasm$/, { timeout: 60_000 });
  await page.route(UNET, async (route) => {
    await wasmAsked.catch(() => undefined);
    await route.continue();
  });
  await app.open();
  await wasmAsked;
  await page.unroute(UNET);
  const log = await page.evaluate(() => (window as unknown as { progressLog: string[] }).progressLog);
  expect(log.some((t) => /Downloading: [\d.]+ MB of 6\.\d MB/.test(t))).toBe(true);
  expect(log.at(-1)).toMatch(/Downloaded and verified: 6\.\d MB/);
  expect(app.requests.filter(isWeight).length).toBeGreaterThanOrEqual(5);
  await page.locator('#storage summary').click();
  await expect(page.locator('#pack-list li[data-state="verified"]')).toContainText('verified');

  app.requests.length = 0;
  await page.reload();
  await app.ready();
  // online, only the manifest is asked for again (a newer description of the same files is taken)
  expect(app.requests.filter((u) => u.includes(PACK))).toEqual([`${new URL(page.url()).origin}${PACK}manifest.json`]);
  await expect(page.locator('#pack-download')).toBeHidden();
});

test('airplane mode: after one online visit the app opens and generates with the network off', async ({ fresh: app, page, context }) => {
  await app.open();
  await page.evaluate(async () => { await navigator.serviceWorker.ready; });
  await page.reload();
  await app.ready();
  expect(await page.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);

  await context.setOffline(true);
  const failed: string[] = [];
  const network: string[] = [];
  page.on('requestfailed', (r: Request) => failed.push(r.url()));
  page.on('response', (r) => { if (!r.fromServiceWorker() && !/^(blob|data):/.test(r.url())) network.push(r.url()); });
  const t0 = Date.now();
  await page.reload();
  await app.ready();
  await expect(page.locator('#offline')).toBeVisible();
  const img = await app.generate({ prompt: 'a red circle on a blue background', backend: 'wasm', steps: 3, width: 256, height: 256, seed: 1 });
  console.log(`offline: opened and generated the first image in ${Date.now() - t0} ms`);
  expect(img.width).toBe(256);
  expect(failed).toEqual([]);
  expect(network).toEqual([]);
});

test.describe('downloads that go wrong', () => {
  // These routes stand in for a flaky server; the service worker stays out of the way.
  test.use({ serviceWorkers: 'block' });

  test('a download cut half-way resumes from the last chunk after a reload and ends verified', async ({ fresh: app, page }) => {
    let cut = true;
    await page.route(UNET, async (route) => {
      if (!cut) return route.continue();
      cut = false;
      const res = await route.fetch();
      const body = await res.body();
      await route.fulfill({ status: 200, headers: res.headers(), body: body.subarray(0, CHUNK_BYTES + 1_000_000) });
    });
    await page.goto('/');
    await expect(page.locator('#error')).toContainText(/unet\/model\.onnx .*(ended early|interrupted)/);
    await expect(page.locator('#pack-retry')).toBeVisible();

    const ranges: (string | undefined)[] = [];
    page.on('request', (r) => { if (r.url().endsWith('unet/model.onnx')) ranges.push(r.headers().range); });
    await page.reload();
    await app.ready();
    expect(ranges).toEqual([`bytes=${CHUNK_BYTES}-`]);
    await page.locator('#storage summary').click();
    await expect(page.locator('#pack-list li[data-state="verified"]')).toBeVisible();
  });

  test('a file served with wrong bytes is rejected with an integrity message and not kept', async ({ fresh: app, page }) => {
    let corrupt = true;
    await page.route(TEXT_ENCODER, async (route) => {
      if (!corrupt) return route.continue();
      const res = await route.fetch();
      const body = Buffer.from(await res.body());
      body[body.length - 10] = body[body.length - 10]! ^ 0xff;
      await route.fulfill({ status: 200, headers: res.headers(), body });
    });
    await page.goto('/');
    await expect(page.locator('#error')).toContainText('text_encoder/model.onnx arrived damaged');
    await page.locator('#storage summary').click();
    await expect(page.locator('#pack-list li[data-state="incomplete"]')).toBeVisible();
    const stored = await page.evaluate(() => new Promise<number>((resolve) => {
      const open = indexedDB.open('pocket-diffusion-weights');
      open.onsuccess = () => {
        const req = open.result.transaction('kv').objectStore('kv').getAllKeys();
        req.onsuccess = () => resolve(req.result.filter((k) => String(k).includes('text_encoder')).length);
      };
    }));
    expect(stored).toBe(0);

    corrupt = false;
    await page.locator('#pack-retry').click();
    await app.ready();
  });

  test('a pack that will not fit is refused before downloading, with the space needed', async ({ fresh: app, page }) => {
    // navigator.storage.estimate() as on a nearly full phone: 2 MB left for this site.
    await page.addInitScript(() => {
      Object.defineProperty(navigator.storage, 'estimate', { value: async () => ({ usage: 1024 * 1024, quota: 3 * 1024 * 1024 }) });
    });
    await page.goto('/');
    await expect(page.locator('#error')).toContainText(/needs 6\.\d MB of storage but the browser allows this site only 2\.0 MB more/);
    expect(app.requests.filter(isWeight)).toEqual([]);
  });

  test('running out of space half-way leaves no half-stored pack and says so', async ({ fresh: app, page, baseURL }) => {
    // A real quota: Chromium's own QuotaExceededError from IndexedDB once 2 MB are stored. The estimate
    // claims room enough, as it can on a device where other apps fill the disk during a download.
    await page.addInitScript(() => {
      Object.defineProperty(navigator.storage, 'estimate', { value: async () => ({ usage: 0, quota: 1024 ** 3 }) });
    });
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(baseURL!).origin, quotaSize: 2 * 1024 * 1024 });
    await page.goto('/');
    await expect(page.locator('#error')).toContainText(/ran out of storage .* partial download was removed/);
    await page.locator('#storage summary').click();
    await expect(page.locator('#pack-list')).toContainText('No models on this device.');
    expect(app.requests.filter(isWeight).length).toBeGreaterThan(0);
  });
});

// Chromium refuses installability in incognito profiles, which is what Playwright's contexts are, so this
// test launches its own persistent profile with the same flags.
test('the manifest passes Chromium\'s installability check and the service worker controls the page', async ({ browserName, baseURL }, testInfo) => {
  expect(browserName).toBe('chromium');
  const launch = testInfo.project.use.launchOptions ?? {};
  const context = await chromium.launchPersistentContext(testInfo.outputPath('profile'), { ...launch, baseURL: baseURL! });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const app = new AppPage(page);
    await app.open();
    await page.evaluate(async () => { await navigator.serviceWorker.ready; });
    await page.reload();
    await app.ready();
    expect(await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL)).toMatch(/\/sw\.js$/);
    // the precache holds the onnxruntime-web runtime the engine loads (for offline use), and no other: the plain
    // .wasm (14 MB) is never loaded by `import 'onnxruntime-web'`, so an install does not download it
    const cached = await page.evaluate(async () => {
      const urls: string[] = [];
      for (const name of await caches.keys()) for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
      return urls.filter((u) => u.startsWith('/ort/')).sort();
    });
    expect(cached).toEqual(['/ort/ort-wasm-simd-threaded.jsep.mjs', '/ort/ort-wasm-simd-threaded.jsep.wasm']);
    const asked = app.requests.filter((u) => u.includes('/ort/')).map((u) => new URL(u).pathname);
    expect(asked).toContain('/ort/ort-wasm-simd-threaded.jsep.wasm');
    expect(cached).toEqual(expect.arrayContaining(asked));
    const cdp = await context.newCDPSession(page);
    const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
    expect(installabilityErrors).toEqual([]);
    const manifest = await (await page.request.get('/manifest.webmanifest')).json();
    expect(manifest).toMatchObject({ display: 'standalone', short_name: 'Pocket Diffusion' });
    expect(manifest.icons.map((i: { sizes: string; purpose: string }) => `${i.sizes} ${i.purpose}`)).toEqual(['192x192 any', '512x512 any', '512x512 maskable']);
  } finally {
    await context.close();
  }
});

test('a new version waits for the person: the banner appears and Reload switches to it', async ({ fresh: app, page }) => {
  await app.open();
  await page.evaluate(async () => { await navigator.serviceWorker.ready; });
  await page.reload();
  await app.ready();
  // Deploy "the next build": the same service worker with different bytes, served by the same server.
  const sw = resolve('dist/sw.js');
  const original = readFileSync(sw, 'utf8');
  try {
    writeFileSync(sw, `${original}\n// next build\n`);
    await page.evaluate(async () => { await (await navigator.serviceWorker.getRegistration())!.update(); });
    await expect(page.locator('#update')).toBeVisible({ timeout: 60_000 });
    await expect(page.locator('#model-status')).toContainText('ready on');
    await Promise.all([page.waitForEvent('load', { timeout: 60_000 }), page.locator('#update-reload').click()]);
    await app.ready();
    await expect(page.locator('#update')).toBeHidden();
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.waiting ?? null)).toBeNull();
  } finally {
    writeFileSync(sw, original);
  }
});

/** A digest of every record in the weight store (key → SHA-256 of its bytes, or of its JSON). */
async function storeDigest(page: Page): Promise<Record<string, string>> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((ok, fail) => {
      const r = indexedDB.open('pocket-diffusion-weights');
      r.onsuccess = () => ok(r.result);
      r.onerror = () => fail(r.error);
    });
    const all = await new Promise<{ keys: IDBValidKey[]; values: unknown[] }>((ok, fail) => {
      const os = db.transaction('kv').objectStore('kv');
      const k = os.getAllKeys();
      const v = os.getAll();
      v.onsuccess = () => ok({ keys: k.result, values: v.result });
      v.onerror = () => fail(v.error);
    });
    db.close();
    const out: Record<string, string> = {};
    for (const [i, key] of all.keys.entries()) {
      const v = all.values[i];
      const bytes = v instanceof Uint8Array ? v : new TextEncoder().encode(JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? Array.from(x) : x)));
      const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)));
      out[String(key)] = Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
    }
    return out;
  });
}

test('a damaged copy of a stored model is refused and the stored one is untouched: it still generates offline', async ({ fresh: app, page, context }) => {
  await app.open();
  await page.evaluate(async () => { await navigator.serviceWorker.ready; });
  const before = await storeDigest(page);
  expect(Object.keys(before).filter((k) => k.startsWith('chunk/')).length).toBeGreaterThan(0);

  // The built-in pack's own folder, with one byte of its VAE decoder changed: same manifest, same id.
  const dir = resolve(mkdtempSync(resolve(tmpdir(), 'pack-')), 'shapes-int8');
  cpSync(resolve('public/models/shapes-int8'), dir, { recursive: true });
  const vae = resolve(dir, 'vae_decoder/model.onnx');
  const bytes = readFileSync(vae);
  bytes[bytes.length - 7]! ^= 0xff;
  writeFileSync(vae, bytes);
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(dir);
  await expect(page.locator('#import-status')).toContainText('Not added: vae_decoder/model.onnx does not match');
  await expect(page.locator('#import-status')).toContainText('Nothing was changed');
  expect(await storeDigest(page)).toEqual(before);

  await context.setOffline(true);
  await page.reload();
  await app.ready();
  const { pixels } = await app.generate({ backend: 'wasm', steps: 2, width: 256, height: 256 });
  expect(new Set(pixels.filter((_, i) => i % 4 === 0)).size).toBeGreaterThan(5);
  expect(await storeDigest(page)).toEqual(before);
});

test('the same copy of a stored model, picked again, changes nothing and is not read into the store twice', async ({ fresh: app, page }) => {
  await app.open();
  const before = await storeDigest(page);
  await page.locator('#add-model > summary').click();
  await page.locator('#import-folder').setInputFiles(resolve('public/models/shapes-int8'));
  await expect(page.locator('#import-status')).toContainText('Added "Shapes');
  expect(await storeDigest(page)).toEqual(before);
});
