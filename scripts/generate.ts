// Text to image from the command line, through the app's own engine and pipeline, on onnxruntime-web's
// WASM backend in Node (the same .wasm the browser runs).
//
//   npm run generate -- --prompt "a red circle on a blue background" --steps 20 --seed 1 --out out.png \
//                       [--width W --height H --guidance G --scheduler NAME (defaults: the pack's)] [--negative ""]
//                       [--pack public/models/shapes-int8] [--threads 2] [--repeats 1] [--one-pass] [--whole]
//
// Above the pack's layout size (its image.layoutSize) the picture is drawn in two passes, as the app draws it;
// --one-pass draws it in one. A prompt that names two or three objects is drawn with each object apart (regional
// prompts) where the pack says so (image.regions); --whole draws it from the prompt whole.
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PNG } from 'pngjs';
import { PocketError } from '../src/core/errors';
import type { GenerateResult } from '../src/core/pipeline/text-to-image';
import { nodeEngine } from './lib/node-engine';

const { values: a } = parseArgs({
  options: {
    prompt: { type: 'string', default: 'a red circle on a blue background' },
    negative: { type: 'string', default: '' },
    steps: { type: 'string', default: '20' },
    width: { type: 'string' },
    height: { type: 'string' },
    seed: { type: 'string', default: '1' },
    guidance: { type: 'string' },
    scheduler: { type: 'string' },
    out: { type: 'string', default: 'out.png' },
    pack: { type: 'string', default: 'public/models/shapes-int8' },
    threads: { type: 'string', default: String(Math.min(4, cpus().length)) },
    repeats: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    'one-pass': { type: 'boolean', default: false },
    whole: { type: 'boolean', default: false },
  },
});

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const ms = (v: number) => `${Math.round(v)} ms`;

async function main(): Promise<void> {
  const pack = resolve(a.pack);
  const engine = await nodeEngine({ threads: Number(a.threads) });
  const info = await engine.load({ packId: pack, backend: 'wasm' });
  const d = info.defaults; // what the pack says it draws best with, where the command line leaves it out
  const request = {
    prompt: a.prompt, negativePrompt: a.negative, steps: Number(a.steps),
    width: Number(a.width ?? d.width), height: Number(a.height ?? d.height),
    seed: Number(a.seed), guidanceScale: Number(a.guidance ?? d.guidanceScale), scheduler: a.scheduler ?? d.scheduler,
    twoPass: !a['one-pass'], ...(a.whole ? { regions: false } : {}),
  };
  const runs: GenerateResult[] = [];
  for (let i = 0; i < Number(a.repeats); i++) {
    runs.push(await engine.generate(request, {
      onProgress: (p) => { process.stderr.write(`\rstep ${p.step}/${p.totalSteps}`); },
    }));
    process.stderr.write('\n');
  }
  const last = runs[runs.length - 1]!;
  const png = new PNG({ width: last.width, height: last.height });
  png.data.set(last.pixels);
  await writeFile(a.out, PNG.sync.write(png));
  const t = (f: (r: GenerateResult) => number) => median(runs.map(f));
  const summary = {
    pack: info.packId, backend: info.backend, threads: Number(a.threads), repeats: runs.length,
    request: last.request, ...(last.layout ? { layout: last.layout } : {}), ...(last.regions ? { regions: last.regions } : {}), droppedTokens: last.droppedTokens, out: a.out,
    medianMs: {
      tokenize: t((r) => r.timings.tokenizeMs), textEncoder: t((r) => r.timings.textEncoderMs),
      // (a two-pass run's: the full-size calls only, those after the layout's)
      unetPerStep: t((r) => median(r.timings.unetMs.slice(r.layout?.calls ?? 0))), unetTotal: t((r) => r.timings.unetMs.reduce((x, y) => x + y, 0)),
      scheduler: t((r) => r.timings.schedulerMs), vae: t((r) => r.timings.vaeMs), total: t((r) => r.timings.totalMs),
    },
    totalsMs: runs.map((r) => Math.round(r.timings.totalMs)),
  };
  if (a.json) {
    console.log(JSON.stringify(summary, null, 1));
  } else {
    const m = summary.medianMs;
    const passes = last.layout ? ` in two passes (laid out at ${last.layout.width}×${last.layout.height}, ${last.layout.fullSteps} steps at full size)` : '';
    console.log(`${last.width}×${last.height}${passes}, ${last.request.steps} steps (${last.timings.unetMs.length} UNet calls), ${last.request.scheduler}, guidance ${last.request.guidanceScale}, seed ${last.request.seed}, ${info.backend} × ${a.threads} threads`);
    if (last.regions) console.log(`drawn apart: ${last.regions.map((r) => `"${r.prompt}"`).join(', ')}`);
    if (last.droppedTokens.prompt) console.log(`note: the prompt was cut: the model read 75 tokens and dropped ${last.droppedTokens.prompt}`);
    console.log(`tokenize ${ms(m.tokenize)} | text encoder ${ms(m.textEncoder)} | UNet ${ms(m.unetPerStep)}/step, ${ms(m.unetTotal)} in all | scheduler ${ms(m.scheduler)} | VAE ${ms(m.vae)} | total ${ms(m.total)}${runs.length > 1 ? ` (median of ${runs.length}: ${summary.totalsMs.join(', ')})` : ''}`);
    console.log(`wrote ${a.out}`);
  }
  await engine.dispose();
}

main().catch((e: unknown) => {
  const err = PocketError.from(e);
  console.error(`generate: ${err.message}`);
  process.exit(err.code === 'bad-request' ? 2 : 1);
});
