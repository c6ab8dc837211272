// SD 1.5 at its real size through the real app (production build) in Debian's Chromium: the fp16 (or fp32)
// export that `recipe.py sd15-scale` writes is picked from disk and stored as int8 on the device, then run.
// Reports, as JSON plus a table: bytes of the source and stored, import time, peak memory while importing
// and running (the page's JS heap; the resident set of Chromium's renderer — where the page, its worker
// and onnxruntime-web's WASM heap live — and of its GPU process; all of Chromium's processes together),
// load time per network, one generation at 256² with guidance and 2 steps on WASM (time per UNet call),
// the load and one UNet call at 256² on WebGPU (SwiftShader here: a CPU emulation, ~50x slower than WASM),
// and a second visit: weight bytes fetched from the network (0: they are in IndexedDB).
//
//   /usr/bin/python3 training/recipe.py sd15-scale && npm run build && npm run bench:scale -- \
//       [--export training/work/sd15-scale/sd15-scale-fp16] [--webgpu true] [--out bench/scale.json]
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Page } from '@playwright/test';
import { generateOnPage, launchChromium, pageReady, startPreview } from './lib/browser';

const { values: opt } = parseArgs({
  options: {
    export: { type: 'string', default: 'training/work/sd15-scale/sd15-scale-fp16' },
    webgpu: { type: 'string', default: 'true' },
    wasm: { type: 'string', default: 'true' },
    // 128 px (below the 256 px a layout's manifest allows: the bench lowers the stored pack's minimum) and
    // guidance 1 make it one UNet call of batch 1 at 16x16 latents — SwiftShader needs minutes even so.
    'webgpu-size': { type: 'string', default: '128' },
    'webgpu-guidance': { type: 'string', default: '1' },
    out: { type: 'string', default: 'bench/scale.json' },
    port: { type: 'string', default: '4181' },
  },
});

const MB = 1024 * 1024;
const folder = resolve(opt.export!);
const folderBytes = (d: string): number => readdirSync(d).reduce((a, e) => {
  const p = join(d, e);
  return a + (statSync(p).isDirectory() ? folderBytes(p) : statSync(p).size);
}, 0);

/** Resident sets of Chromium's processes by kind (renderer, gpu-process, …), from /proc. */
function chromiumRss(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('chromium')) continue;
      const kind = /--type=([\w-]+)/.exec(cmd)?.[1] ?? 'browser';
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
      out[kind] = (out[kind] ?? 0) + rss;
    } catch { /* the process ended */ }
  }
  return out;
}

/** Peak figures while `work` runs, sampled every 250 ms. */
async function peaks<T>(page: Page, work: () => Promise<T>): Promise<{ result: T; ms: number; peakMb: Record<string, number> }> {
  const peak: Record<string, number> = {};
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
  const sample = async () => {
    const rss = chromiumRss();
    for (const [k, v] of Object.entries(rss)) peak[`rss ${k}`] = Math.max(peak[`rss ${k}`] ?? 0, v);
    peak['rss all'] = Math.max(peak['rss all'] ?? 0, Object.values(rss).reduce((a, b) => a + b, 0));
    try {
      const { metrics } = await cdp.send('Performance.getMetrics');
      const heap = metrics.find((m) => m.name === 'JSHeapUsedSize')?.value ?? 0;
      peak['page JS heap'] = Math.max(peak['page JS heap'] ?? 0, heap);
    } catch { /* navigating */ }
  };
  const timer = setInterval(() => void sample(), 250);
  const t0 = performance.now();
  try {
    const result = await work();
    await sample();
    return { result, ms: performance.now() - t0, peakMb: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, Math.round(v / MB)])) };
  } finally {
    clearInterval(timer);
    await cdp.detach().catch(() => undefined);
  }
}

const ready = (page: Page) => pageReady(page, 900_000);

async function generate(page: Page, s: { steps: number; size: number; guidance: number }) {
  await page.locator('#tuning').evaluate((d) => { (d as unknown as { open: boolean }).open = true; });
  return generateOnPage<{ textEncoderMs: number; unetMs: number[]; vaeMs: number; totalMs: number }>(page, { ...s, twoPass: false }, 1_800_000);
}

/** One UNet call's time without the rest of a run: DDIM, 2 steps, the progress line's elapsed time at step 1
 * and at step 2 (one UNet call apart), then Cancel — SwiftShader would need many more minutes for the VAE. */
async function oneUnetCall(page: Page, s: { size: number; guidance: number }, timeout = 2_400_000): Promise<number> {
  await page.locator('#tuning').evaluate((d) => { (d as unknown as { open: boolean }).open = true; });
  await page.locator('#steps').fill('2');
  await page.locator('#scheduler').selectOption('ddim');
  await page.locator('#width').selectOption(String(s.size));
  await page.locator('#height').selectOption(String(s.size));
  await page.locator('#guidance').fill(String(s.guidance));
  await page.locator('#generate').click();
  const elapsed = async (step: number) => {
    const line = page.locator('#progress-text').filter({ hasText: `Step ${step} of 2` });
    await line.waitFor({ timeout });
    return Number(/· ([\d.]+) s/.exec((await line.textContent()) ?? '')?.[1] ?? NaN) * 1000;
  };
  const first = await elapsed(1);
  const second = await elapsed(2);
  await page.locator('#cancel').click().catch(() => undefined);
  await page.locator('#progress-text').filter({ hasText: /Cancelled|Done/ }).waitFor({ timeout }).catch(() => undefined);
  return second - first;
}

async function load(page: Page, backend: 'wasm' | 'webgpu') {
  await page.locator('#tuning').evaluate((d) => { (d as unknown as { open: boolean }).open = true; });
  const before = await page.locator('#model-status').textContent();
  await page.locator('#backend').selectOption(backend);
  await page.locator('#model-status').filter({ hasNotText: before ?? '' }).filter({ hasText: 'ready on' }).waitFor({ timeout: 900_000 }).catch(() => undefined);
  await ready(page);
  return JSON.parse((await page.locator('#model-status').getAttribute('data-network-load-ms')) ?? '{}') as Record<string, { readMs: number; createMs: number }>;
}

async function main(): Promise<void> {
  const preview = await startPreview(Number(opt.port));
  const browser = await launchChromium();
  const context = await browser.newContext();
  const page = await context.newPage();
  const rows: Record<string, unknown> = { export: folder, sourceBytes: folderBytes(folder) };
  try {
    await page.goto(`${preview.url}/?history=off`);
    await ready(page);
    const usage = () => page.evaluate(async () => (await (globalThis as unknown as { navigator: { storage: { estimate(): Promise<{ usage?: number }> } } }).navigator.storage.estimate()).usage ?? 0);
    const before = await usage();
    await page.locator('#add-model > summary').click();
    await page.locator('#import-int8').check();
    const imported = await peaks(page, async () => {
      await page.locator('#import-folder').setInputFiles(folder);
      await page.locator('#import-status').filter({ hasText: /Added|Not added/ }).waitFor({ timeout: 1_800_000 });
      const text = (await page.locator('#import-status').textContent()) ?? '';
      if (!text.includes('Added')) throw new Error(text);
      await ready(page);
    });
    rows.import = { ms: Math.round(imported.ms), peakMb: imported.peakMb, storedBytes: (await usage()) - before };
    writeFileSync(resolve(opt.out!), `${JSON.stringify(rows, null, 1)}\n`); // what is measured so far, in case a later part fails
    const size = Number(opt['webgpu-size']);
    if (opt.webgpu === 'true' && size < 256) {
      // Only for this timing: the stored pack's record allows smaller pictures (SD 1.5 draws nothing useful there).
      // (A string: the scripts' realm has no DOM typings.)
      await page.evaluate(`(async () => {
        const db = await new Promise((ok, fail) => { const o = indexedDB.open('pocket-diffusion-weights'); o.onsuccess = () => ok(o.result); o.onerror = () => fail(o.error); });
        const store = db.transaction('kv', 'readwrite').objectStore('kv');
        const keys = await new Promise((ok) => { const r = store.getAllKeys(); r.onsuccess = () => ok(r.result); });
        for (const k of keys.filter((x) => String(x).startsWith('pack/') && String(x).endsWith('-int8'))) {
          const rec = await new Promise((ok) => { const r = store.get(k); r.onsuccess = () => ok(r.result); });
          rec.manifest.image.minSize = ${size};
          await new Promise((ok) => { const r = store.put(rec, k); r.onsuccess = ok; });
        }
      })()`);
      await page.reload();
      await ready(page);
    }
    if (opt.wasm === 'true') {
      const wasmLoad = await peaks(page, () => load(page, 'wasm'));
      const wasmRun = await peaks(page, () => generate(page, { steps: 2, size: 256, guidance: 7.5 }));
      rows.wasm = { loadMs: Math.round(wasmLoad.ms), networkLoadMs: wasmLoad.result, loadPeakMb: wasmLoad.peakMb, run: wasmRun.result, runPeakMb: wasmRun.peakMb,
        unetMsPerCall: Math.round(wasmRun.result.unetMs.reduce((a, b) => a + b, 0) / wasmRun.result.unetMs.length) };
      console.error(JSON.stringify(rows.wasm));
    }
    if (opt.webgpu === 'true') {
      try {
        const gpuLoad = await peaks(page, () => load(page, 'webgpu'));
        const gpuRun = await peaks(page, () => oneUnetCall(page, { size: Number(opt['webgpu-size']), guidance: Number(opt['webgpu-guidance']) }));
        rows.webgpu = { loadMs: Math.round(gpuLoad.ms), networkLoadMs: gpuLoad.result, loadPeakMb: gpuLoad.peakMb, unetCallMs: Math.round(gpuRun.result), runPeakMb: gpuRun.peakMb,
          status: await page.locator('#model-status').textContent() };
      } catch (e) {
        rows.webgpu = { failed: String(e) };
      }
    }
    // A second visit: the app shell from the service worker, the weights from IndexedDB.
    const again = await context.newPage();
    const fetched: string[] = [];
    again.on('request', (r) => {
      if (/\.onnx|onnx_data|weights\.pb|\/models\//.test(r.url())) fetched.push(r.url());
    });
    await again.goto(`${preview.url}/?history=off`);
    await ready(again);
    rows.secondVisit = { weightRequests: fetched.length, status: await again.locator('#model-status').textContent() };
  } finally {
    await browser.close();
    preview.stop();
  }
  mkdirSync(dirname(resolve(opt.out!)), { recursive: true });
  writeFileSync(resolve(opt.out!), `${JSON.stringify(rows, null, 1)}\n`);
  console.log(JSON.stringify(rows));
  const r = rows as { sourceBytes: number; import: { ms: number; peakMb: Record<string, number>; storedBytes: number }; wasm?: { loadMs: number; unetMsPerCall: number; runPeakMb: Record<string, number>; run: { totalMs: number } }; webgpu?: { loadMs?: number; unetCallMs?: number; runPeakMb?: Record<string, number>; failed?: string }; secondVisit: { weightRequests: number } };
  const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
  console.log('\n| measure | value |\n| --- | --- |');
  console.log(`| source (${folder.split('/').pop()}) → stored as int8 | ${gb(r.sourceBytes)} → ${gb(r.import.storedBytes)} |`);
  console.log(`| import time | ${(r.import.ms / 1000).toFixed(0)} s |`);
  console.log(`| peak while importing: page JS heap / renderer RSS / all Chromium | ${r.import.peakMb['page JS heap']} / ${r.import.peakMb['rss renderer']} / ${r.import.peakMb['rss all']} MB |`);
  if (r.wasm) {
    console.log(`| WASM: load / one 256² run, 2 steps, guidance 7.5 / per UNet call | ${(r.wasm.loadMs / 1000).toFixed(0)} s / ${(r.wasm.run.totalMs / 1000).toFixed(0)} s / ${(r.wasm.unetMsPerCall / 1000).toFixed(1)} s |`);
    console.log(`| WASM peak: renderer RSS / all Chromium | ${r.wasm.runPeakMb['rss renderer']} / ${r.wasm.runPeakMb['rss all']} MB |`);
  }
  if (r.webgpu?.failed) console.log(`| WebGPU (SwiftShader) | failed: ${r.webgpu.failed} |`);
  else if (r.webgpu?.unetCallMs) console.log(`| WebGPU (SwiftShader): load / one UNet call | ${((r.webgpu.loadMs ?? 0) / 1000).toFixed(0)} s / ${(r.webgpu.unetCallMs / 1000).toFixed(0)} s at ${opt['webgpu-size']}², guidance ${opt['webgpu-guidance']}; GPU process peak RSS ${r.webgpu.runPeakMb?.['rss gpu-process']} MB |`);
  console.log(`| second visit: weight requests | ${r.secondVisit.weightRequests} |`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
