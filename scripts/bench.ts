// The benchmark anyone can run: the real app (production build) in headless Chromium over a grid of
// backends × steps × sizes, several repeats each, and — interleaved with them (browser run, native
// run, browser run, …, so that load on this shared machine falls on both alike) — the ceiling of this
// machine for the same model: the pack's ONNX files on native onnxruntime-node (CPU), timed per stage.
// Ratios are taken per pair and reported as a median with their spread.
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
import { generateOnPage, launchChromium, pageReady, startPreview } from './lib/browser';
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
  /** Median over the interleaved pairs of browser total / native total, and its [min, max]. */
  browserOverNative?: number;
  browserOverNativeSpread?: [number, number];
  /** Per stage: browser ms over native ms for the same network call (median over the pairs). */
  stageRatios?: { textEncoder: number; unetPerCall: number; vae: number };
  unetPerCallSpread?: [number, number];
  runs: number[];
}

/** One native onnxruntime-node run's worth of the three networks' calls, taken right after a browser run. */
interface NativeRun { textMs: number; unetMsPerStep: number; vaeMs: number }

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

const ready = (page: Page) => pageReady(page);

function runInBrowser(page: Page, size: number, steps: number): Promise<BrowserTimings> {
  // one pass at every size: the figures are per-call costs at that size, compared with native onnxruntime's
  return generateOnPage<BrowserTimings>(page, { prompt: PROMPT, steps, size, twoPass: false });
}

/** Native onnxruntime-node on the CPU, all cores: the same three ONNX files, timed per call on demand. */
async function nativeRunner(): Promise<(size: number) => Promise<NativeRun>> {
  const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: cpus().length, graphOptimizationLevel: 'all' };
  const text = await ort.InferenceSession.create(join(packDir, 'text_encoder/model.onnx'), opts);
  const unet = await ort.InferenceSession.create(join(packDir, 'unet/model.onnx'), opts);
  const vae = await ort.InferenceSession.create(join(packDir, 'vae_decoder/model.onnx'), opts);
  const time = async (f: () => Promise<unknown>, n = 1) => {
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
  const warm = new Set<number>();
  return async (size) => {
    const l = size / 8;
    const sample = new ort.Tensor('float32', new Float32Array(2 * 4 * l * l).fill(0.1), [2, 4, l, l]);
    const timestep = new ort.Tensor('float32', Float32Array.from([500]), [1]);
    const latent = new ort.Tensor('float32', new Float32Array(4 * l * l).fill(0.1), [1, 4, l, l]);
    const calls = { unet: () => unet.run({ sample, timestep, encoder_hidden_states: hidden }), vae: () => vae.run({ latent_sample: latent }) };
    if (!warm.has(size)) {
      await calls.unet();
      await calls.vae();
      warm.add(size);
    }
    return { textMs: await time(() => text.run({ input_ids: ids })), unetMsPerStep: await time(calls.unet, 3), vaeMs: await time(calls.vae) };
  };
}

const preview = await startPreview(4176);
try {
  const browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  await page.goto(`${preview.url}/?history=off`);
  await ready(page);
  const unavailable: Record<string, string> = {};
  const raw: { backend: string; size: number; steps: number; repeat: number; timings: BrowserTimings; native: NativeRun }[] = [];
  const native = await nativeRunner();
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
          // A B A B: each browser run is followed at once by the native calls it is compared with.
          const timings = await runInBrowser(page, size, s);
          raw.push({ backend, size, steps: s, repeat: r, timings, native: await native(size) });
          process.stderr.write(`${backend} ${size}² ${s} steps #${r + 1}: ${timings.totalMs.toFixed(0)} ms\n`);
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

  const rows: Row[] = [];
  const spread = (xs: readonly number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];
  for (const backend of backends) {
    for (const size of sizesGrid) {
      for (const steps of stepsGrid) {
        const pairs = raw.filter((r) => r.backend === backend && r.size === size && r.steps === steps);
        const runs = pairs.map((r) => r.timings);
        if (!runs.length) continue;
        const unetPerStep = median(runs.map((t) => sum(t.unetMs) / t.unetMs.length));
        const totals = runs.map((t) => t.totalMs);
        const overhead = median(runs.map((t) => (t.totalMs - t.textEncoderMs - sum(t.unetMs) - t.vaeMs) / t.totalMs));
        const calls = runs[0]!.unetMs.length;
        const nativeTotals = pairs.map(({ native: n }) => n.textMs + calls * n.unetMsPerStep + n.vaeMs);
        const totalRatios = pairs.map((p, i) => p.timings.totalMs / nativeTotals[i]!);
        const unetRatios = pairs.map((p) => sum(p.timings.unetMs) / p.timings.unetMs.length / p.native.unetMsPerStep);
        rows.push({
          backend, size, steps, unetCalls: calls, totalMs: median(totals), textEncoderMs: median(runs.map((t) => t.textEncoderMs)),
          unetMsPerStep: unetPerStep, schedulerMs: median(runs.map((t) => t.schedulerMs)), vaeMs: median(runs.map((t) => t.vaeMs)),
          overheadPct: 100 * overhead, runs: totals,
          nativeTotalMs: median(nativeTotals), browserOverNative: median(totalRatios), browserOverNativeSpread: spread(totalRatios),
          stageRatios: {
            textEncoder: median(pairs.map((p) => p.timings.textEncoderMs / p.native.textMs)),
            unetPerCall: median(unetRatios),
            vae: median(pairs.map((p) => p.timings.vaeMs / p.native.vaeMs)),
          },
          unetPerCallSpread: spread(unetRatios),
        });
      }
    }
  }
  // Native medians per size over every pair taken at that size.
  const nativeRows = sizesGrid.filter((size) => raw.some((r) => r.size === size)).map((size) => {
    const at = raw.filter((r) => r.size === size).map((r) => r.native);
    return { size, textMs: median(at.map((n) => n.textMs)), unetMsPerStep: median(at.map((n) => n.unetMsPerStep)), vaeMs: median(at.map((n) => n.vaeMs)), runs: at.length };
  });
  mkdirSync(out, { recursive: true });
  const result = { machine, grid: { backends, steps: stepsGrid, sizes: sizesGrid, repeats, prompt: PROMPT, scheduler: 'pack default', interleaved: true }, rows, native: nativeRows };
  writeFileSync(join(out, 'results.json'), `${JSON.stringify({ ...result, raw }, null, 1)}\n`);

  const f = (v: number | undefined, d = 0) => (v === undefined ? '—' : v.toFixed(d));
  const table = [
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGiB} GiB; Chromium ${machine.chromium}; ${Object.entries(adapters).map(([b, a]) => `${b}: ${a}`).join('; ')}. Medians of ${repeats}; each browser run followed by its native run (interleaved), ratios per pair: median [min–max].`,
    '',
    '| backend | size | steps | total ms | text enc ms | UNet ms/step | scheduler ms | VAE ms | overhead % | native total ms | browser / native | UNet call browser / native |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.backend} | ${r.size}² | ${r.steps} | ${f(r.totalMs)} | ${f(r.textEncoderMs)} | ${f(r.unetMsPerStep, 1)} | ${f(r.schedulerMs, 1)} | ${f(r.vaeMs)} | ${f(r.overheadPct, 1)} | ${f(r.nativeTotalMs)} | ${f(r.browserOverNative, 2)} [${f(r.browserOverNativeSpread?.[0], 2)}–${f(r.browserOverNativeSpread?.[1], 2)}] | ${f(r.stageRatios?.unetPerCall, 2)} [${f(r.unetPerCallSpread?.[0], 2)}–${f(r.unetPerCallSpread?.[1], 2)}] |`),
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
