// The built-in "shapes" pack as shipped: its manifest tells the truth about its files, its networks
// carry the names and dynamic axes of Stable Diffusion's ONNX exports, and onnxruntime-web computes
// what the training recipe's torch model computes (test/fixtures/shapes-int8-parity.json, written by
// `python3 training/recipe.py export`).
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import * as ort from 'onnxruntime-web';
import { beforeAll, describe, expect, it } from 'vitest';

const PACK = resolve(__dirname, '../../public/models/shapes-int8');
const manifest = JSON.parse(readFileSync(resolve(PACK, 'manifest.json'), 'utf8'));
const parity = JSON.parse(readFileSync(resolve(__dirname, '../fixtures/shapes-int8-parity.json'), 'utf8'));

ort.env.wasm.numThreads = 1;

function session(part: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(resolve(PACK, part, 'model.onnx'), { executionProviders: ['wasm'] });
}

function maxRelError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    num = Math.max(num, Math.abs((actual[i] ?? NaN) - (expected[i] ?? NaN)));
    den = Math.max(den, Math.abs(expected[i] ?? 0));
  }
  return num / den;
}

function tensorInput(s: ort.InferenceSession, index: number): { type: string; shape: readonly (number | string)[] } {
  const meta = s.inputMetadata[index];
  if (!meta?.isTensor) throw new Error(`input ${index} of the session is not a tensor`);
  return meta;
}

async function output(s: ort.InferenceSession, feeds: ort.InferenceSession.FeedsType, name: string): Promise<ort.Tensor> {
  const out = (await s.run(feeds))[name];
  if (!out) throw new Error(`no output ${name}`);
  return out;
}

describe('shapes-int8 manifest', () => {
  it('lists every file with its true size and SHA-256', () => {
    expect(manifest.files.length).toBeGreaterThanOrEqual(6);
    for (const f of manifest.files) {
      const bytes = readFileSync(resolve(PACK, f.path));
      expect(bytes.length, f.path).toBe(f.size);
      expect(createHash('sha256').update(bytes).digest('hex'), f.path).toBe(f.sha256);
    }
    expect(manifest.totalBytes).toBe(manifest.files.reduce((s: number, f: { size: number }) => s + f.size, 0));
  });

  it('fits the 30 MB budget', () => {
    expect(manifest.totalBytes).toBeLessThanOrEqual(30_000_000);
  });

  it("describes SD 1.5's schedule, tokenizer and VAE scaling", () => {
    expect(manifest.scheduler).toMatchObject({
      num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
      prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 1,
    });
    const vocab = JSON.parse(readFileSync(resolve(PACK, 'tokenizer/vocab.json'), 'utf8'));
    expect(manifest.tokenizer).toMatchObject({
      maxLength: 77, bosTokenId: vocab['<|startoftext|>'], eosTokenId: vocab['<|endoftext|>'], padTokenId: vocab['<|endoftext|>'],
    });
    expect(manifest.vae.scalingFactor).toBeGreaterThan(0);
    const schedulerFile = JSON.parse(readFileSync(resolve(PACK, 'scheduler/scheduler_config.json'), 'utf8'));
    expect(schedulerFile).toEqual(manifest.scheduler);
  });
});

describe('shapes-int8 networks in onnxruntime-web (wasm)', () => {
  let text: ort.InferenceSession;
  let unet: ort.InferenceSession;
  let vae: ort.InferenceSession;
  beforeAll(async () => {
    [text, unet, vae] = await Promise.all([session('text_encoder'), session('unet'), session('vae_decoder')]);
  });

  it('use the input and output names of SD ONNX exports, with dynamic batch and size', () => {
    expect(text.inputNames).toEqual(['input_ids']);
    expect(text.outputNames).toEqual(['last_hidden_state']);
    expect(unet.inputNames).toEqual(['sample', 'timestep', 'encoder_hidden_states']);
    expect(unet.outputNames).toEqual(['out_sample']);
    expect(vae.inputNames).toEqual(['latent_sample']);
    expect(vae.outputNames).toEqual(['sample']);
    expect(tensorInput(text, 0).type).toBe('int32');
    const dynamicBatchAndSize = ['string', 'number', 'string', 'string'];
    expect(tensorInput(unet, 0).shape.map((d) => typeof d)).toEqual(dynamicBatchAndSize);
    expect(tensorInput(vae, 0).shape.map((d) => typeof d)).toEqual(dynamicBatchAndSize);
  });

  it('text encoder matches the recipe', async () => {
    const ids = Int32Array.from(parity.input_ids.flat());
    const out = await output(text, { input_ids: new ort.Tensor('int32', ids, [2, 77]) }, 'last_hidden_state');
    expect(out.dims).toEqual(parity.text_encoder.shape);
    const data = out.data as Float32Array;
    const width = parity.text_encoder.shape[2];
    const firstRows = [...data.subarray(0, 4 * width), ...data.subarray(77 * width, 81 * width)];
    expect(maxRelError(firstRows, parity.text_encoder.first_rows)).toBeLessThan(1e-3);
    const absSum = data.reduce((s, v) => s + Math.abs(v), 0);
    expect(Math.abs(absSum - parity.text_encoder.abs_sum) / parity.text_encoder.abs_sum).toBeLessThan(1e-4);
  });

  it('unet matches the recipe on a non-square batch of 2', async () => {
    const ids = Int32Array.from(parity.input_ids.flat());
    const hidden = await output(text, { input_ids: new ort.Tensor('int32', ids, [2, 77]) }, 'last_hidden_state');
    const shape: number[] = parity.unet.sample_shape;
    const sample = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(0.37 * i));
    const out = await output(unet, {
      sample: new ort.Tensor('float32', sample, shape),
      timestep: new ort.Tensor('float32', Float32Array.of(parity.unet.timestep), [1]),
      encoder_hidden_states: hidden,
    }, 'out_sample');
    expect(out.dims).toEqual(shape);
    expect(maxRelError(out.data as Float32Array, parity.unet.out_sample)).toBeLessThan(2e-3);
  });

  it('vae decoder matches the recipe and upsamples 8x', async () => {
    const shape: number[] = parity.vae_decoder.latent_shape;
    const latent = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.cos(0.21 * i));
    const [, , h, w] = shape as [number, number, number, number];
    const out = await output(vae, { latent_sample: new ort.Tensor('float32', latent, shape) }, 'sample');
    expect(out.dims).toEqual([1, 3, h * 8, w * 8]);
    const every7th = (out.data as Float32Array).filter((_, i) => i % 7 === 0);
    expect(maxRelError(every7th, parity.vae_decoder.every_7th)).toBeLessThan(2e-3);
  });
});
