// The benchmark anyone can run: the real app (production build) in headless Chromium over a grid of
// backends × steps × sizes, several repeats each, and — in the same run — the ceiling of this machine
// for the same model: the pack's ONNX files on native onnxruntime-node (CPU), timed per stage.
//
//   npm run build && npm run bench -- [--backends wasm,webgpu] [--steps 1,4,8,20] [--sizes 256,384,512]
//        [--repeats 3] [--webgpu-steps 1,4] [--webgpu-sizes 256] [--out bench]
//
// Writes OUT/results.json, OUT/results.md and three SVG plots (time vs steps, time vs size, per-stage
// breakdown); prints the JSON summary and the table. Figures are medians over the repeats.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Page } from '@playwright/test';
import { launchChromium, startPreview } from './lib/browser';
import { lineChart, stackedBars } from './lib/svg-plot';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1] ?? '');
const list = (k: string, d: string) => (args.get(k) ?? d).split(',').filter(Boolean);
const nums = (k: string, d: string) => list(k, d).map(Number);
const backends = list('backends', 'wasm,webgpu');
const stepsGrid = nums('steps', '1,4,8,20');
const sizesGrid = nums('sizes', '256,384,512');
// SwiftShader (this machine's WebGPU) is a CPU emulation: keep its part of the grid small.
const gpuSteps = nums('webgpu-steps', '1,4');
const gpuSizes = nums('webgpu-sizes', '256');
const repeats = Number(args.get('repeats') ?? 3);
const out = resolve(args.get('out') ?? 'bench');
const packDir = resolve('public/models/shapes-int8');
const PROMPT = 'a red circle on a blue background';

interface BrowserTimings {
  tokenizeMs: number; textEncoderMs: number; unetMs: number[]; schedulerMs: number; vaeMs: number; totalMs: number;
}
interface Row {
  backend: string; size: number; steps: number;
  /** UNet calls per run (PNDM makes one more than its steps). */
  unetCalls: number;
  totalMs: number; textEncoderMs: number; unetMsPerStep: number; schedulerMs: number; vaeMs: number;
  /** Time outside the three networks' calls (tokenizer, scheduler, yields between steps), % of the
   * engine's total; a network call's time includes its input/output tensor copies. */
  overheadPct: number;
  nativeTotalMs?: number;
  browserOverNative?: number;
  /** Per stage: browser ms over native ms for the same network call. */
  stageRatios?: { textEncoder: number; unetPerCall: number; vae: number };
  runs: number[];
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

async function ready(page: Page): Promise<void> {
  await page.locator('#model-status').filter({ hasText: 'ready on' }).waitFor({ timeout: 300_000 });
}

async function runInBrowser(page: Page, size: number, steps: number): Promise<BrowserTimings> {
  await page.locator('#prompt').fill(PROMPT);
  await page.locator('#steps').fill(String(steps));
  await page.locator('#width').selectOption(String(size));
  await page.locator('#height').selectOption(String(size));
  await page.locator('#seed').fill('1');
  const before = Number((await page.locator('#output').getAttribute('data-generation')) ?? 0);
  await page.locator('#generate').click();
  const done = page.locator(`#output[data-generation="${before + 1}"]`).waitFor({ state: 'attached', timeout: 600_000 });
  const failed = page.locator('#error').waitFor({ state: 'visible', timeout: 600_000 }).then(async () => {
    throw new Error(`the app refused the run: ${await page.locator('#error').textContent()}`);
  });
  await Promise.race([done, failed]);
  return JSON.parse((await page.locator('#output').getAttribute('data-timings'))!) as BrowserTimings;
}

/** Native onnxruntime-node on the CPU, all cores: the same three ONNX files, per call. */
async function nativeCeiling(sizes: readonly number[]): Promise<Map<number, { textMs: number; unetMsPerStep: number; vaeMs: number }>> {
  const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: cpus().length, graphOptimizationLevel: 'all' };
  const text = await ort.InferenceSession.create(join(packDir, 'text_encoder/model.onnx'), opts);
  const unet = await ort.InferenceSession.create(join(packDir, 'unet/model.onnx'), opts);
  const vae = await ort.InferenceSession.create(join(packDir, 'vae_decoder/model.onnx'), opts);
  const time = async (f: () => Promise<unknown>, n: number) => {
    await f();
    const t: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await f();
      t.push(performance.now() - t0);
    }
    return median(t);
  };
  const ids = new ort.Tensor('int32', new Int32Array(2 * 77).fill(1), [2, 77]);
  const hidden = (await text.run({ input_ids: ids })).last_hidden_state!;
  const textMs = await time(() => text.run({ input_ids: ids }), repeats);
  const res = new Map<number, { textMs: number; unetMsPerStep: number; vaeMs: number }>();
  for (const size of sizes) {
    const l = size / 8;
    const sample = new ort.Tensor('float32', new Float32Array(2 * 4 * l * l).fill(0.1), [2, 4, l, l]);
    const timestep = new ort.Tensor('float32', Float32Array.from([500]), [1]);
    const latent = new ort.Tensor('float32', new Float32Array(4 * l * l).fill(0.1), [1, 4, l, l]);
    const unetMsPerStep = await time(() => unet.run({ sample, timestep, encoder_hidden_states: hidden }), Math.max(3, repeats));
    const vaeMs = await time(() => vae.run({ latent_sample: latent }), repeats);
    res.set(size, { textMs, unetMsPerStep, vaeMs });
  }
  return res;
}

const preview = await startPreview(4176);
try {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${preview.url}/?history=off`);
  await ready(page);
  const unavailable: Record<string, string> = {};
  const raw: { backend: string; size: number; steps: number; repeat: number; timings: BrowserTimings }[] = [];
  const adapters: Record<string, string> = {};
  for (const backend of backends) {
    await page.locator('#backend').selectOption(backend);
    try {
      await ready(page);
    } catch {
      // A backend this machine cannot run is reported, and the rest of the grid still runs.
      unavailable[backend] = (await page.locator('#error').textContent()) || 'did not load';
      continue;
    }
    adapters[backend] = ((await page.locator('#model-status').textContent()) ?? '').replace(/^.*ready on (.*), loaded.*$/, '$1');
    const sizes = backend === 'webgpu' ? sizesGrid.filter((s) => gpuSizes.includes(s)) : sizesGrid;
    const steps = backend === 'webgpu' ? stepsGrid.filter((s) => gpuSteps.includes(s)) : stepsGrid;
    for (const size of sizes) {
      await runInBrowser(page, size, 1); // warm-up: shaders and buffers for this size
      for (const s of steps) {
        for (let r = 0; r < repeats; r++) {
          raw.push({ backend, size, steps: s, repeat: r, timings: await runInBrowser(page, size, s) });
          process.stderr.write(`${backend} ${size}² ${s} steps #${r + 1}: ${raw.at(-1)!.timings.totalMs.toFixed(0)} ms\n`);
        }
      }
    }
  }
  const machine = {
    cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    chromium: browser.version(), node: process.version, onnxruntimeNode: ort.env.versions.node ?? 'unknown',
    adapters, unavailable, date: new Date().toISOString(),
  };
  await browser.close();

  const native = await nativeCeiling(sizesGrid);
  const rows: Row[] = [];
  for (const backend of backends) {
    for (const size of sizesGrid) {
      for (const steps of stepsGrid) {
        const runs = raw.filter((r) => r.backend === backend && r.size === size && r.steps === steps).map((r) => r.timings);
        if (!runs.length) continue;
        const unetPerStep = median(runs.map((t) => sum(t.unetMs) / t.unetMs.length));
        const totals = runs.map((t) => t.totalMs);
        const overhead = median(runs.map((t) => (t.totalMs - t.textEncoderMs - sum(t.unetMs) - t.vaeMs) / t.totalMs));
        const n = native.get(size);
        const calls = runs[0]!.unetMs.length;
        const nativeTotal = n ? n.textMs + calls * n.unetMsPerStep + n.vaeMs : undefined;
        rows.push({
          backend, size, steps, unetCalls: calls, totalMs: median(totals), textEncoderMs: median(runs.map((t) => t.textEncoderMs)),
          unetMsPerStep: unetPerStep, schedulerMs: median(runs.map((t) => t.schedulerMs)), vaeMs: median(runs.map((t) => t.vaeMs)),
          overheadPct: 100 * overhead, runs: totals,
          ...(nativeTotal && n ? {
            nativeTotalMs: nativeTotal, browserOverNative: median(totals) / nativeTotal,
            stageRatios: { textEncoder: median(runs.map((t) => t.textEncoderMs)) / n.textMs, unetPerCall: median(runs.map((t) => sum(t.unetMs) / t.unetMs.length)) / n.unetMsPerStep, vae: median(runs.map((t) => t.vaeMs)) / n.vaeMs },
          } : {}),
        });
      }
    }
  }
  const nativeRows = [...native].map(([size, n]) => ({ size, ...n }));
  mkdirSync(out, { recursive: true });
  const result = { machine, grid: { backends, steps: stepsGrid, sizes: sizesGrid, repeats, prompt: PROMPT, scheduler: 'pack default' }, rows, native: nativeRows };
  writeFileSync(join(out, 'results.json'), `${JSON.stringify({ ...result, raw }, null, 1)}\n`);

  const f = (v: number | undefined, d = 0) => (v === undefined ? '—' : v.toFixed(d));
  const table = [
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB; Chromium ${machine.chromium}; ${Object.entries(adapters).map(([b, a]) => `${b}: ${a}`).join('; ')}. Medians of ${repeats}.`,
    '',
    '| backend | size | steps | total ms | text enc ms | UNet ms/step | scheduler ms | VAE ms | overhead % | native total ms | browser / native | UNet call browser / native |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.backend} | ${r.size}² | ${r.steps} | ${f(r.totalMs)} | ${f(r.textEncoderMs)} | ${f(r.unetMsPerStep, 1)} | ${f(r.schedulerMs, 1)} | ${f(r.vaeMs)} | ${f(r.overheadPct, 1)} | ${f(r.nativeTotalMs)} | ${f(r.browserOverNative, 2)} | ${f(r.stageRatios?.unetPerCall, 2)} |`),
    ...Object.entries(unavailable).map(([b, why]) => `\n${b}: not measured (${why}).`),
    '',
    '| native onnxruntime-node (CPU) | text enc ms | UNet ms/call (batch 2) | VAE ms |',
    '| --- | --- | --- | --- |',
    ...nativeRows.map((n) => `| ${n.size}² | ${f(n.textMs, 1)} | ${f(n.unetMsPerStep, 1)} | ${f(n.vaeMs, 1)} |`),
  ].join('\n');
  writeFileSync(join(out, 'results.md'), `${table}\n`);

  const seriesBy = (pick: (r: Row) => number, group: (r: Row) => string, x: (r: Row) => number, keep: (r: Row) => boolean) => {
    const m = new Map<string, [number, number][]>();
    for (const r of rows.filter(keep)) m.set(group(r), [...(m.get(group(r)) ?? []), [x(r), pick(r)]]);
    return [...m].map(([name, points]) => ({ name, points }));
  };
  const secs = (r: Row) => r.totalMs / 1000;
  writeFileSync(join(out, 'time-vs-steps.svg'), lineChart('Time vs steps', 'steps', 'seconds (median)',
    seriesBy(secs, (r) => `${r.backend} ${r.size}²`, (r) => r.steps, () => true)));
  const maxSteps = Math.max(...stepsGrid);
  const sizeSeries = seriesBy(secs, (r) => `${r.backend}, ${r.steps} steps`, (r) => r.size, (r) => r.steps === maxSteps || (r.backend === 'webgpu' && r.steps === Math.max(...gpuSteps)));
  writeFileSync(join(out, 'time-vs-size.svg'), lineChart('Time vs size', 'width = height (px)', 'seconds (median)', sizeSeries, { xFromZero: false }));
  const breakdown = rows.filter((r) => r.steps === maxSteps || (r.backend === 'webgpu' && r.steps === Math.max(...gpuSteps)));
  writeFileSync(join(out, 'stages.svg'), stackedBars('Per-stage breakdown (median)', 'milliseconds', [
    ...breakdown.map((r) => ({
      label: `${r.backend} ${r.size}² ${r.steps}st`,
      parts: [['text encoder', r.textEncoderMs], ['UNet', r.unetMsPerStep * r.unetCalls],
        ['scheduler', r.schedulerMs], ['VAE', r.vaeMs], ['other', Math.max(0, (r.overheadPct / 100) * r.totalMs - r.schedulerMs)]] as [string, number][],
    })),
    ...nativeRows.filter((n) => sizesGrid.includes(n.size)).map((n) => ({
      label: `native ${n.size}² ${maxSteps}st`,
      parts: [['text encoder', n.textMs], ['UNet', n.unetMsPerStep * maxSteps], ['VAE', n.vaeMs]] as [string, number][],
    })),
  ]));
  console.log(JSON.stringify({ machine, rows: rows.map(({ runs: _runs, ...r }) => r), native: nativeRows }, null, 1));
  console.log(`\n${table}\n\nWrote ${join(out, 'results.json')}, results.md, time-vs-steps.svg, time-vs-size.svg, stages.svg`);
} finally {
  preview.stop();
}
