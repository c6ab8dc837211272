// Airplane-mode figures for the built-in pack, in Debian's Chromium against the production build:
// bytes fetched on the first and the second visit, time from opening the app warm and offline to the
// first image (median of --repeats), and the engine's load time from IndexedDB.
//
//   npm run build && npx tsx scripts/bench-offline.ts [--repeats 3] [--backend wasm|webgpu]
//
// Prints JSON, then a table.
import type { Page, Request } from '@playwright/test';
import { launchChromium, startPreview } from './lib/browser';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const repeats = Number(args.get('repeats') ?? 3);
const backend = args.get('backend') ?? 'wasm';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** Bytes that came over the network (not from the service worker) while `action` ran. */
async function networkBytes(page: Page, action: () => Promise<void>): Promise<{ bytes: number; requests: number }> {
  let bytes = 0;
  let requests = 0;
  const onDone = async (req: Request) => {
    const res = await req.response();
    if (!res || res.fromServiceWorker()) return;
    const sizes = await req.sizes();
    bytes += sizes.responseBodySize + sizes.responseHeadersSize;
    requests += 1;
  };
  page.on('requestfinished', onDone);
  await action();
  await new Promise((r) => setTimeout(r, 500));
  page.off('requestfinished', onDone);
  return { bytes, requests };
}

async function ready(page: Page): Promise<number> {
  await page.locator('#model-status').filter({ hasText: 'ready on' }).waitFor({ timeout: 300_000 });
  const text = (await page.locator('#model-status').textContent()) ?? '';
  return Number(/loaded in ([\d.]+) s/.exec(text)?.[1] ?? NaN) * 1000;
}

const preview = await startPreview(4174);
try {
  const browser = await launchChromium();
  const context = await browser.newContext({ baseURL: preview.url });
  const page = await context.newPage();
  const first = await networkBytes(page, async () => {
    await page.goto('/');
    await ready(page);
    await page.evaluate('navigator.serviceWorker.ready.then(() => true)');
  });
  const second = await networkBytes(page, async () => {
    await page.reload();
    await ready(page);
  });
  await page.locator('#backend').selectOption(backend);
  await ready(page);
  await context.setOffline(true);
  const openToImage: number[] = [];
  const loadFromIdb: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = Date.now();
    await page.reload();
    loadFromIdb.push(await ready(page));
    await page.locator('#generate').click();
    await page.locator('#output[data-generation="1"]').waitFor({ timeout: 300_000 });
    openToImage.push(Date.now() - t0);
  }
  const settings = await page.locator('#settings').textContent();
  await browser.close();
  const result = {
    backend, settings, firstVisit: first, secondVisit: second,
    offlineOpenToFirstImageMs: { median: median(openToImage), runs: openToImage },
    engineLoadFromIndexedDbMs: { median: median(loadFromIdb), runs: loadFromIdb },
  };
  console.log(JSON.stringify(result, null, 1));
  console.log(`
| figure | value |
| --- | --- |
| first visit, fetched over the network | ${(first.bytes / 1e6).toFixed(2)} MB in ${first.requests} requests |
| second visit (online reload), fetched over the network | ${(second.bytes / 1e6).toFixed(3)} MB in ${second.requests} requests |
| warm offline: open the app → first image (median of ${repeats}) | ${(median(openToImage) / 1000).toFixed(2)} s (${settings}) |
| engine load from IndexedDB: read + create sessions (median) | ${(median(loadFromIdb) / 1000).toFixed(2)} s |`);
} finally {
  preview.stop();
}
