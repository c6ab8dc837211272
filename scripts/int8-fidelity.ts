// How close an int8 pack's network computes to its float original: the same inputs through both on
// native onnxruntime-node (CPU; it takes SD 1.5's 3.4 GB fp32 UNet, which WASM's 4 GB cannot), one call
// per seed; prints the output's signal-to-noise ratio (dB) and its largest error relative to the
// output's range, median over seeds, as JSON plus a table.
//
//   npx tsx scripts/int8-fidelity.ts --original training/work/sd15-scale/sd15-scale-fp32 \
//       --int8 training/work/sd15-scale/sd15-scale-fp32-int8 [--networks unet,text_encoder,vae_decoder] [--latent 32] [--seeds 3]
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { toHalf, fromHalf } from '../src/core/pipeline/float16';

const { values: opt } = parseArgs({
  options: {
    original: { type: 'string', default: 'training/work/sd15-scale/sd15-scale-fp32' },
    int8: { type: 'string', default: 'training/work/sd15-scale/sd15-scale-fp32-int8' },
    networks: { type: 'string', default: 'unet,text_encoder,vae_decoder' },
    latent: { type: 'string', default: '32' },
    seeds: { type: 'string', default: '3' },
  },
});

/** A seeded uniform generator (mulberry32): the same inputs for both networks. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function feeds(session: ort.InferenceSession, seed: number): Record<string, ort.Tensor> {
  const L = Number(opt.latent);
  const r = rng(seed);
  const out: Record<string, ort.Tensor> = {};
  for (const m of session.inputMetadata) {
    if (!m.isTensor) continue;
    const dims = m.name === 'sample' ? [2, 4, L, L] : m.name === 'latent_sample' ? [1, 4, L, L] : m.name === 'encoder_hidden_states' ? [2, 77, 768]
      : m.name === 'input_ids' ? [1, 77] : m.shape.map((d) => (typeof d === 'number' ? d : 2));
    const n = dims.reduce((a, d) => a * d, 1);
    if (m.type === 'int64') out[m.name] = new ort.Tensor('int64', BigInt64Array.from({ length: n }, (_, i) => (m.name === 'timestep' ? 500n : BigInt((i * 7919 + seed) % 49408))), dims);
    else if (m.type === 'int32') out[m.name] = new ort.Tensor('int32', Int32Array.from({ length: n }, (_, i) => (i * 7919 + seed) % 49408), dims);
    else {
      const v = Float32Array.from({ length: n }, () => (m.name === 'timestep' ? 500 : (r() - 0.5) * 3.4));
      out[m.name] = m.type === 'float16' ? new ort.Tensor('float16', toHalf(v), dims) : new ort.Tensor('float32', v, dims);
    }
  }
  return out;
}

const values = (t: ort.Tensor): Float32Array => (t.type === 'float16' ? fromHalf(t.data as Uint16Array) : (t.data as Float32Array));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const rows: { network: string; snrDb: number; maxErrorOfRange: number; seeds: number }[] = [];
  for (const net of opt.networks!.split(',')) {
    const a = await ort.InferenceSession.create(resolve(join(opt.original!, net, 'model.onnx')));
    const b = await ort.InferenceSession.create(resolve(join(opt.int8!, net, 'model.onnx')));
    const snr: number[] = [];
    const maxErr: number[] = [];
    for (let seed = 0; seed < Number(opt.seeds); seed++) {
      const x = values(Object.values(await a.run(feeds(a, seed)))[0]!);
      const y = values(Object.values(await b.run(feeds(b, seed)))[0]!);
      let sig = 0;
      let noise = 0;
      let lo = Infinity;
      let hi = -Infinity;
      let worst = 0;
      for (let i = 0; i < x.length; i++) {
        sig += x[i]! * x[i]!;
        noise += (x[i]! - y[i]!) ** 2;
        lo = Math.min(lo, x[i]!);
        hi = Math.max(hi, x[i]!);
        worst = Math.max(worst, Math.abs(x[i]! - y[i]!));
      }
      snr.push(10 * Math.log10(sig / Math.max(noise, 1e-30)));
      maxErr.push(worst / (hi - lo));
    }
    rows.push({ network: net, snrDb: Math.round(median(snr) * 10) / 10, maxErrorOfRange: Math.round(median(maxErr) * 1e4) / 1e4, seeds: snr.length });
    await a.release();
    await b.release();
  }
  console.log(JSON.stringify({ original: opt.original, int8: opt.int8, latent: Number(opt.latent), backend: 'onnxruntime-node (CPU)', rows }));
  console.log('\n| network | output SNR, int8 vs original (dB) | largest error / output range |\n| --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.network} | ${r.snrDb} | ${r.maxErrorOfRange} |`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
