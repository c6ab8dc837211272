#!/usr/bin/env node
// Times a pack's networks in onnxruntime-web's WASM backend (in Node, the same .wasm the browser runs):
// one text-encoder call (batch 2: prompt + unconditional), `steps` UNet calls with classifier-free
// guidance as one batch of 2, one VAE decode — the work of one text-to-image generation, without the
// scheduler's arithmetic (negligible next to these). Prints JSON and a table; medians over repeats.
//
//   node scripts/bench-pack.mjs [--pack public/models/shapes-int8] [--sizes 512,256] [--steps 20]
//                               [--repeats 3] [--threads 2]
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';

const { values: opt } = parseArgs({
  options: {
    pack: { type: 'string', default: 'public/models/shapes-int8' },
    sizes: { type: 'string', default: '512,256' },
    steps: { type: 'string', default: '20' },
    repeats: { type: 'string', default: '3' },
    threads: { type: 'string', default: String(Math.min(2, cpus().length)) },
  },
});
const pack = resolve(opt.pack);
const manifest = JSON.parse(readFileSync(resolve(pack, 'manifest.json'), 'utf8'));
const steps = Number(opt.steps);
ort.env.wasm.numThreads = Number(opt.threads);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const now = () => performance.now();
const make = (part) => ort.InferenceSession.create(resolve(pack, part, 'model.onnx'), {
  executionProviders: ['wasm'], graphOptimizationLevel: 'all',
});

const [text, unet, vae] = [await make('text_encoder'), await make('unet'), await make('vae_decoder')];
const ids = new Int32Array(2 * 77).fill(manifest.tokenizer.padTokenId);
ids[0] = ids[77] = manifest.tokenizer.bosTokenId;

const rows = [];
for (const size of opt.sizes.split(',').map(Number)) {
  const lat = size / 8;
  const runs = [];
  for (let r = 0; r < Number(opt.repeats) + 1; r++) {
    const t0 = now();
    const hidden = (await text.run({ input_ids: new ort.Tensor('int32', ids, [2, 77]) })).last_hidden_state;
    const t1 = now();
    let latents = new Float32Array(4 * lat * lat).map((_, i) => Math.sin(i));
    const unetMs = [];
    for (let s = 0; s < steps; s++) {
      const u0 = now();
      const both = new Float32Array(2 * latents.length);
      both.set(latents);
      both.set(latents, latents.length);
      const eps = (await unet.run({
        sample: new ort.Tensor('float32', both, [2, 4, lat, lat]),
        timestep: new ort.Tensor('float32', Float32Array.of(981 - 50 * s), [1]),
        encoder_hidden_states: hidden,
      })).out_sample.data;
      latents = latents.map((x, i) => x - 0.01 * (eps[i] + 7.5 * (eps[i + latents.length] - eps[i])));
      unetMs.push(now() - u0);
    }
    const t2 = now();
    await vae.run({ latent_sample: new ort.Tensor('float32', latents, [1, 4, lat, lat]) });
    const t3 = now();
    if (r > 0) runs.push({ text: t1 - t0, unetStep: median(unetMs), unet: t2 - t1, vae: t3 - t2, total: t3 - t0 });
    // run 0 warms up (kernel selection, allocations) and is not counted
  }
  const m = (k) => Math.round(median(runs.map((x) => x[k])));
  rows.push({ size: `${size}x${size}`, steps, textEncoderMs: m('text'), unetStepMs: m('unetStep'), unetTotalMs: m('unet'),
    vaeMs: m('vae'), totalMs: m('total'), repeats: runs.length });
}

const result = { pack: manifest.id, backend: 'wasm', threads: ort.env.wasm.numThreads, cpu: cpus()[0]?.model,
  cores: cpus().length, node: process.version, onnxruntimeWeb: ort.env.versions?.web, results: rows };
console.log(JSON.stringify(result, null, 1));
console.log('\n| size | steps | text encoder ms | UNet ms/step (batch 2) | UNet total ms | VAE ms | total ms |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.size} | ${r.steps} | ${r.textEncoderMs} | ${r.unetStepMs} | ${r.unetTotalMs} | ${r.vaeMs} | ${r.totalMs} |`);
}
process.exit(0);
