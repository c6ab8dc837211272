import { describe, expect, it } from 'vitest';
import { PocketError } from '../../../src/core/errors';
import type { HostTensor } from '../../../src/core/pipeline/model-session';
import { TextEncoderNet, UNetNet, VaeDecoderNet } from '../../../src/core/pipeline/networks';
import { regionMasks } from '../../../src/core/pipeline/regions';
import { decodeLatents, generate, toRgba, upscaleLatents, type PipelineModels } from '../../../src/core/pipeline/text-to-image';
import { SeededRandom } from '../../../src/core/random';
import { createScheduler, type SchedulerConfig } from '../../../src/core/schedulers';
import { ClipTokenizer } from '../../../src/core/tokenizer/clip-tokenizer';
import { readShared } from '../../shared';
import { FakeTextEncoder, FakeUNet, FakeVae, WIDTH, type UNetVariant } from './fake-sessions';

const tokenizer = new ClipTokenizer(JSON.parse(readShared('clip-tokenizer/vocab.json')), readShared('clip-tokenizer/merges.txt'),
  { maxLength: 77, bosTokenId: 49406, eosTokenId: 49407, padTokenId: 49407 });
const SD15: SchedulerConfig = {
  num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
  timestep_spacing: 'leading', steps_offset: 1, set_alpha_to_one: false,
};
const LIMITS = { minSize: 32, maxSize: 1024, multipleOf: 8 };

function models(opts: { unet?: UNetVariant; ids?: 'int32' | 'int64'; textBatch?: number | string; vae?: 'float32' | 'float16'; onDevice?: boolean } = {}) {
  const sessions = { text: new FakeTextEncoder(opts.ids, opts.textBatch, opts.onDevice ? ['last_hidden_state'] : []), unet: new FakeUNet(opts.unet), vae: new FakeVae(opts.vae) };
  const m: PipelineModels = {
    tokenizer, textEncoder: new TextEncoderNet(sessions.text), unet: new UNetNet(sessions.unet), vae: new VaeDecoderNet(sessions.vae),
    vaeScalingFactor: 0.5, schedulerConfig: SD15, limits: LIMITS,
  };
  return { m, sessions };
}

const REQ = { prompt: 'a red circle on a blue background', steps: 4, width: 64, height: 48, seed: 7, guidanceScale: 7.5, scheduler: 'ddim' };

describe('generate', () => {
  it('applies classifier-free guidance: ε = ε_u + g (ε_c − ε_u)', async () => {
    const { m } = models();
    let first: Float32Array | undefined;
    await generate(m, { ...REQ, steps: 1 }, { onProgress: (p) => { first ??= p.latents.slice(); } });
    // Recompute the one DDIM step by hand with the fake UNet's formula.
    const hidden = (p: string) => {
      const ids = tokenizer.encode(p).ids;
      let s = 0;
      for (const id of ids) for (let c = 0; c < WIDTH; c++) s += id / 50000 + c / 10;
      return s / (77 * WIDTH);
    };
    const s = createScheduler('ddim', SD15);
    s.setTimesteps(1);
    const t = s.timesteps[0]!;
    const x = new SeededRandom(7).gaussian(4 * 6 * 8);
    const epsU = x.map((v) => 0.1 * v + hidden('') + t / 10000);
    const epsC = x.map((v) => 0.1 * v + hidden(REQ.prompt) + t / 10000);
    const eps = epsU.map((u, i) => u + 7.5 * (epsC[i]! - u));
    const expected = s.step(eps, t, x).prevSample;
    expect(first).toBeDefined();
    Array.from(expected).forEach((v, i) => expect(first![i]).toBeCloseTo(v, 4));
  });

  it('runs guidance as one batch of 2 when the UNet allows it, two calls otherwise — same image', async () => {
    const dynamic = models();
    const single = models({ unet: { batch: 1 } });
    const fixed2 = models({ unet: { batch: 2 } });
    const a = await generate(dynamic.m, REQ);
    const b = await generate(single.m, REQ);
    const c = await generate(fixed2.m, REQ);
    expect(dynamic.sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual([2, 2, 2, 2]);
    expect(single.sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(Array.from(b.pixels)).toEqual(Array.from(a.pixels));
    expect(Array.from(c.pixels)).toEqual(Array.from(a.pixels));
  });

  it('skips the unconditional pass at guidance 1 (padding a fixed batch of 2)', async () => {
    const dyn = models();
    await generate(dyn.m, { ...REQ, guidanceScale: 1 });
    expect(dyn.sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual([1, 1, 1, 1]);
    expect(dyn.sessions.text.calls[0]!.input_ids!.dims[0]).toBe(1);
    const fixed2 = models({ unet: { batch: 2 } });
    const r = await generate(fixed2.m, { ...REQ, guidanceScale: 1 });
    expect(fixed2.sessions.unet.calls).toHaveLength(4);
    expect(r.pixels.length).toBe(64 * 48 * 4);
  });

  it('feeds fp16 UNets and VAEs half floats and agrees with fp32 to half precision', async () => {
    const f32 = await generate(models().m, REQ);
    const f16 = models({ unet: { floatType: 'float16' }, vae: 'float16' });
    const r = await generate(f16.m, REQ);
    expect(f16.sessions.unet.calls[0]!.sample!.type).toBe('float16');
    expect(f16.sessions.vae.calls[0]!.latent_sample!.type).toBe('float16');
    // half precision (11-bit significand) through 4 steps whose ε difference guidance multiplies by 7.5
    const diff = Math.max(...Array.from(r.pixels, (v, i) => Math.abs(v - f32.pixels[i]!)));
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThanOrEqual(4);
  });

  it('gives int64 token ids to encoders that want them, with the same result', async () => {
    const i64 = models({ ids: 'int64' });
    const a = await generate(i64.m, REQ);
    const b = await generate(models().m, REQ);
    expect(i64.sessions.text.calls[0]!.input_ids!.type).toBe('int64');
    expect(Array.from(a.pixels)).toEqual(Array.from(b.pixels));
  });

  it('encodes one prompt per call when the text encoder has a fixed batch of 1', async () => {
    const one = models({ textBatch: 1 });
    const a = await generate(one.m, REQ);
    expect(one.sessions.text.calls.map((c) => c.input_ids!.dims[0])).toEqual([1, 1]);
    expect(Array.from(a.pixels)).toEqual(Array.from((await generate(models().m, REQ)).pixels));
  });

  it.each([
    ['int64', [1]], ['int64', []], ['float32', ['timestep_batch']], ['float16', [1]], ['float32', [2]],
  ] as const)('feeds a %s timestep of shape %j', async (type, shape) => {
    const v = models({ unet: { timestepType: type, timestepShape: shape, batch: shape[0] === 2 ? 2 : 'batch' } });
    const r = await generate(v.m, { ...REQ, scheduler: 'pndm' });
    const ts = v.sessions.unet.calls[0]!.timestep!;
    expect(ts.type).toBe(type);
    expect(ts.dims.length).toBe(shape.length);
    expect(Array.from((await generate(models().m, { ...REQ, scheduler: 'pndm' })).pixels)).toEqual(Array.from(r.pixels));
  });

  it('keeps text embeddings on the device for the loop and releases them after', async () => {
    const dev = models({ onDevice: true });
    const r = await generate(dev.m, REQ);
    // one text-encoder call for the guidance pair, its output fed to every UNet step without a copy
    expect(dev.sessions.text.deviceTensors).toHaveLength(1);
    expect(dev.sessions.unet.calls.every((c) => c.encoder_hidden_states === dev.sessions.text.deviceTensors[0])).toBe(true);
    expect(dev.sessions.text.deviceTensors.every((d) => d.disposed)).toBe(true);
    expect(Array.from(r.pixels)).toEqual(Array.from((await generate(models().m, REQ)).pixels));
  });

  it('reads the pack\'s VAE downscale factor: a factor-4 VAE gets latents of a quarter, not an eighth, of the size', async () => {
    const v = models();
    const vae = new FakeVae('float32', 4);
    const m = { ...v.m, vae: new VaeDecoderNet(vae), downscaleFactor: 4, limits: { ...LIMITS, multipleOf: 4 } };
    const r = await generate(m, { ...REQ, width: 68, height: 36, steps: 2 });
    expect([r.width, r.height, r.pixels.length]).toEqual([68, 36, 68 * 36 * 4]);
    expect(vae.calls[0]!.latent_sample!.dims).toEqual([1, 4, 9, 17]);
    expect(v.sessions.unet.calls[0]!.sample!.dims.slice(2)).toEqual([9, 17]);
  });

  it('joins a static-batch-1 text encoder\'s GPU outputs for a batch-2 UNet (onnxruntime fixes output locations per session)', async () => {
    // sd15-static's signature on WebGPU: the text encoder's output was put on the GPU when its session
    // was created, so each of the two runs hands back a GPU tensor; they must be read back and joined.
    const dev = models({ onDevice: true, textBatch: 1 });
    const r = await generate(dev.m, REQ);
    expect(dev.sessions.text.deviceTensors).toHaveLength(2);
    expect(dev.sessions.text.deviceTensors.every((d) => d.disposed)).toBe(true);
    expect(dev.sessions.unet.calls[0]!.encoder_hidden_states!.dims).toEqual([2, 77, WIDTH]);
    expect(Array.from(r.pixels)).toEqual(Array.from((await generate(models({ textBatch: 1 }).m, REQ)).pixels));
  });

  it('releases the first prompt\'s GPU embeddings when the second encode fails', async () => {
    const dev = models({ onDevice: true, unet: { batch: 1 } });
    let runs = 0;
    const run = dev.sessions.text.run.bind(dev.sessions.text);
    dev.sessions.text.run = async (feeds) => {
      if (runs++ === 1) throw new Error('out of memory');
      return run(feeds);
    };
    await expect(generate(dev.m, REQ)).rejects.toThrow('out of memory');
    expect(dev.sessions.text.deviceTensors).toHaveLength(1);
    expect(dev.sessions.text.deviceTensors[0]!.disposed).toBe(true);
  });

  it('is deterministic per seed', async () => {
    const { m } = models();
    const a = await generate(m, REQ);
    const b = await generate(m, REQ);
    const c = await generate(m, { ...REQ, seed: 8 });
    expect(Array.from(a.pixels)).toEqual(Array.from(b.pixels));
    expect(Array.from(a.pixels)).not.toEqual(Array.from(c.pixels));
  });

  it('reports progress every step and per-stage timings', async () => {
    const steps: number[] = [];
    const dims: (readonly number[])[] = [];
    let lastDenoised: Float32Array | undefined;
    let lastLatents: Float32Array | undefined;
    const r = await generate(models().m, { ...REQ, steps: 5 }, {
      onProgress: (p) => { steps.push(p.step); dims.push(p.latentDims); lastDenoised = p.denoised; lastLatents = p.latents; },
    });
    expect(steps).toEqual([1, 2, 3, 4, 5]);
    // The preview's input: DDIM's x̂0 estimate, shaped [c, h/8, w/8] of the 64×48 request.
    expect(dims[0]).toEqual([4, 6, 8]);
    expect(lastDenoised).toHaveLength(4 * 6 * 8);
    expect(lastDenoised).not.toBe(lastLatents);
    expect(r.timings.unetMs).toHaveLength(5);
    const { tokenizeMs, textEncoderMs, schedulerMs, vaeMs, totalMs } = r.timings;
    for (const v of [tokenizeMs, textEncoderMs, schedulerMs, vaeMs, totalMs]) expect(v).toBeGreaterThanOrEqual(0);
    expect(totalMs).toBeGreaterThanOrEqual(textEncoderMs + vaeMs);
    expect([r.width, r.height, r.pixels.length]).toEqual([64, 48, 64 * 48 * 4]);
  });

  it('cancels between steps and the same models generate again afterwards', async () => {
    const { m, sessions } = models();
    const ac = new AbortController();
    const err = await generate(m, { ...REQ, steps: 10 }, { signal: ac.signal, onProgress: (p) => { if (p.step === 3) ac.abort(); } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PocketError);
    expect((err as PocketError).code).toBe('aborted');
    expect(sessions.unet.calls).toHaveLength(3);
    expect(sessions.vae.calls).toHaveLength(0);
    const again = await generate(m, REQ);
    expect(again.pixels.length).toBe(64 * 48 * 4);
  });

  it('awaits an async progress callback (a VAE preview) before the next step, and decodes like the end of a run', async () => {
    const { m, sessions } = models();
    const seen: number[] = [];
    let preview: Uint8ClampedArray | undefined;
    const r = await generate(m, { ...REQ, steps: 3 }, {
      onProgress: async (p) => {
        seen.push(sessions.unet.calls.length);
        if (p.step === 3) preview = await decodeLatents(m, p.latents, p.latentDims);
      },
    });
    expect(seen).toEqual([1, 2, 3]);
    expect(sessions.vae.calls).toHaveLength(2);
    expect(preview).toEqual(r.pixels);
  });

  it('cancels from a queued event (as a worker message arrives) between steps', async () => {
    const { m, sessions } = models();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 0); // a macrotask, like onmessage; the fake sessions resolve as microtasks
    const err = await generate(m, { ...REQ, steps: 50 }, { signal: ac.signal }).catch((e: unknown) => e);
    expect((err as PocketError).code).toBe('aborted');
    expect(sessions.unet.calls.length).toBeLessThan(50);
  });

  it('reports a prompt longer than the model reads', async () => {
    const r = await generate(models().m, { ...REQ, prompt: 'red '.repeat(90) });
    expect(r.droppedTokens.prompt).toBe(15);
    expect(r.droppedTokens.negativePrompt).toBe(0);
  });

  it.each([
    ['steps', { steps: 0 }], ['steps', { steps: 101 }], ['steps', { steps: 2.5 }],
    ['width', { width: 60 }], ['width', { width: 2048 }], ['height', { height: 0 }], ['height', { height: 24 }],
    ['guidanceScale', { guidanceScale: 0.5 }], ['guidanceScale', { guidanceScale: Number.NaN }],
    ['seed', { seed: -1 }], ['seed', { seed: 2 ** 32 }], ['scheduler', { scheduler: 'magic' }],
    ['prompt', { prompt: 'x'.repeat(25_000) }],
  ])('refuses a bad %s before any work, saying why', async (field, change) => {
    const { m, sessions } = models();
    const err = await generate(m, { ...REQ, ...change }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PocketError);
    expect((err as PocketError).code).toBe('bad-request');
    expect((err as PocketError).detail?.field).toBe(field);
    expect((err as PocketError).message.length).toBeGreaterThan(20);
    expect(sessions.text.calls).toHaveLength(0);
  });

  it('allows only the baked-in size for a UNet exported with fixed latents', async () => {
    const { m } = models({ unet: { latentSize: [6, 8] } });
    const fixed = { ...m, limits: { ...LIMITS, fixed: [64, 48] as const } };
    expect((await generate(fixed, REQ)).pixels.length).toBe(64 * 48 * 4);
    const err = await generate(fixed, { ...REQ, width: 128 }).catch((e: unknown) => e);
    expect((err as PocketError).message).toMatch(/64×48 only/);
  });
});

describe('two passes above the pack\'s layout size (hires fix)', () => {
  // a 64×64 picture from a pack that composes at 32×32: 5 DDIM steps at 32×32, then steps 4-5 of the grid at 64×64
  const composing = () => {
    const made = models();
    return { ...made, m: { ...made.m, limits: { ...LIMITS, layout: [32, 32] as const } } };
  };
  const REQ2 = { ...REQ, width: 64, height: 64, steps: 5 };

  it('lays the picture out at the layout size, then finishes the grid\'s last steps at full size', async () => {
    const { m, sessions } = composing();
    const passes: (string | undefined)[] = [];
    const totals = new Set<number>();
    const work: [number, number][] = [];
    const r = await generate(m, REQ2, { onProgress: (p) => { passes.push(p.pass); totals.add(p.totalSteps); work.push([p.workDone, p.workTotal]); } });
    expect(sessions.unet.calls.map((f) => f.sample!.dims.slice(2))).toEqual([...Array(5).fill([4, 4]), [8, 8], [8, 8]]);
    const s = createScheduler('ddim', SD15);
    s.setTimesteps(5);
    expect(sessions.unet.calls.map((f) => Number((f.timestep as HostTensor).data[0]))).toEqual([...s.timesteps, ...s.timesteps.slice(3)]);
    expect(passes).toEqual([...Array(5).fill('layout'), 'full', 'full']);
    expect([...totals]).toEqual([7]);
    // the time left is paced on work: 5 layout calls at a quarter of the latent pixels, then 2 full ones
    expect([work.at(0), work.at(4), work.at(-1)]).toEqual([[0.25, 3.25], [1.25, 3.25], [3.25, 3.25]]);
    expect(r.layout).toEqual({ width: 32, height: 32, calls: 5, fullSteps: 2, strength: 0.4 });
    expect(r.timings.unetMs).toHaveLength(7);
    expect([r.width, r.height, r.pixels.length]).toEqual([64, 64, 64 * 64 * 4]);
  });

  it('lays out the picture a one-pass run at the layout size draws, and noises its upscaled latents to the first step left', async () => {
    const { m, sessions } = composing();
    let layoutEnd: Float32Array | undefined;
    await generate(m, REQ2, { onProgress: (p) => { if (p.pass === 'layout') layoutEnd = p.latents; } });
    const small = models();
    let smallEnd: Float32Array | undefined;
    await generate(small.m, { ...REQ2, width: 32, height: 32 }, { onProgress: (p) => { smallEnd = p.latents; } });
    expect(Array.from(layoutEnd!)).toEqual(Array.from(smallEnd!));
    // the second pass's first input: diffusers' add_noise of the upscaled layout, its noise seeded apart (seed + 2^20)
    const s = createScheduler('ddim', SD15);
    s.setTimesteps(5);
    s.beginAt(3);
    const up = upscaleLatents(layoutEnd!, [4, 4, 4], [8, 8]);
    const start = s.addNoise(up, new SeededRandom(7 + 2 ** 20).gaussian(up.length));
    const input = (sessions.unet.calls[5]!.sample as HostTensor).data as Float32Array;
    Array.from(start).forEach((v, i) => expect(input[i]).toBeCloseTo(v, 5)); // (the batch's first half: unconditional)
  });

  it('draws in one pass when asked to, at or below the layout size, and for a pack without one', async () => {
    for (const [made, req] of [[composing(), { ...REQ2, twoPass: false }], [composing(), { ...REQ2, width: 32, height: 32 }], [models(), REQ2]] as const) {
      const r = await generate(made.m, req);
      expect(r.layout).toBeUndefined();
      expect(made.sessions.unet.calls).toHaveLength(5);
    }
  });

  it('refuses a twoPass that is not true or false', async () => {
    await expect(generate(composing().m, { ...REQ2, twoPass: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'bad-request', detail: { field: 'twoPass' } });
  });
});

describe('regional prompts (regions.ts): each named object\'s caption guides its own part of the layout', () => {
  // a 64×64 picture from a pack that composes at 32×32: the layout pass regional, the second pass whole
  const composing = (opts: Parameters<typeof models>[0] = {}, regions?: boolean) => {
    const made = models(opts);
    return { ...made, m: { ...made.m, limits: { ...LIMITS, layout: [32, 32] as const, ...(regions !== undefined ? { regions } : {}) } } };
  };
  const TWO = { ...REQ, prompt: 'a red star and a blue circle on a green background', width: 64, height: 64, steps: 5, regions: true };
  const hidden = (p: string) => {
    const ids = tokenizer.encode(p).ids;
    let s = 0;
    for (const id of ids) for (let c = 0; c < WIDTH; c++) s += id / 50000 + c / 10;
    return s / (77 * WIDTH);
  };

  it('mixes each caption\'s ε by its mask, then guides: ε = ε_u + g (Σ_r m_r ε_r − ε_u)', async () => {
    const { m, sessions } = composing();
    let first: Float32Array | undefined;
    const r = await generate(m, { ...TWO, steps: 1, twoPass: false, width: 32, height: 32 }, { onProgress: (p) => { first ??= p.latents.slice(); } });
    // seed 7 is odd: the mirror layout, top right and bottom left
    expect(r.regions).toEqual([
      { object: 'a red star', prompt: 'a red star in the top right on a green background', point: [0.8, 0.2] },
      { object: 'a blue circle', prompt: 'a blue circle in the bottom left on a green background', point: [0.2, 0.8] },
    ]);
    expect(sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual([3]);
    const s = createScheduler('ddim', SD15);
    s.setTimesteps(1);
    const t = s.timesteps[0]!;
    const x = new SeededRandom(7).gaussian(4 * 4 * 4);
    const masks = regionMasks([[0.8, 0.2], [0.2, 0.8]], 4, 4);
    const eps = x.map((v, i) => {
      const e = (p: string) => 0.1 * v + hidden(p) + t / 10000;
      const c = masks[0]![i % 16]! * e(r.regions![0]!.prompt) + masks[1]![i % 16]! * e(r.regions![1]!.prompt);
      return e('') + 7.5 * (c - e(''));
    });
    const expected = s.step(eps, t, x).prevSample;
    Array.from(expected).forEach((v, i) => expect(first![i]).toBeCloseTo(v, 4));
  });

  it('draws the layout regional and the second pass whole, counting the regional calls\' extra work', async () => {
    const { m, sessions } = composing();
    const work: [number, number][] = [];
    const r = await generate(m, TWO, { onProgress: (p) => { work.push([p.workDone, p.workTotal]); } });
    expect(sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual([3, 3, 3, 3, 3, 2, 2]);
    // 5 layout calls at a quarter of the pixels and 3 captions of 2: 5 × 0.375, then 2 full ones
    expect([work.at(0), work.at(-1)]).toEqual([[0.375, 3.875], [3.875, 3.875]]);
    expect(r.regions).toHaveLength(2);
  });

  it('gives the same picture on UNets fixed at batch 1 or 2 (one caption per call; the odd one padded)', async () => {
    const a = await generate(composing().m, TWO);
    const single = composing({ unet: { batch: 1 } });
    const fixed2 = composing({ unet: { batch: 2 } });
    const b = await generate(single.m, TWO);
    const c = await generate(fixed2.m, TWO);
    expect(single.sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual(Array(5 * 3 + 2 * 2).fill(1));
    expect(fixed2.sessions.unet.calls).toHaveLength(5 * 2 + 2);
    expect(Array.from(b.pixels)).toEqual(Array.from(a.pixels));
    expect(Array.from(c.pixels)).toEqual(Array.from(a.pixels));
  });

  it('encodes only the captions in one regional pass, and mixes them without guidance too (ε = Σ_r m_r ε_r)', async () => {
    const { m, sessions } = composing();
    let first: Float32Array | undefined;
    const req = { ...TWO, steps: 1, twoPass: false, width: 32, height: 32, guidanceScale: 1 };
    const r = await generate(m, req, { onProgress: (p) => { first ??= p.latents.slice(); } });
    expect(sessions.text.calls.map((c) => c.input_ids!.dims[0])).toEqual([2]); // the two captions, not the prompt whole
    expect(sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual([2]);
    const s = createScheduler('ddim', SD15);
    s.setTimesteps(1);
    const t = s.timesteps[0]!;
    const x = new SeededRandom(7).gaussian(4 * 4 * 4);
    const masks = regionMasks(r.regions!.map((g) => g.point), 4, 4);
    const eps = x.map((v, i) => masks[0]![i % 16]! * (0.1 * v + hidden(r.regions![0]!.prompt) + t / 10000)
      + masks[1]![i % 16]! * (0.1 * v + hidden(r.regions![1]!.prompt) + t / 10000));
    Array.from(s.step(eps, t, x).prevSample).forEach((v, i) => expect(first![i]).toBeCloseTo(v, 4));
  });

  it('draws the prompt whole where a caption, its place added, would lose words past the 75 tokens', async () => {
    // 75 tokens: the whole prompt fits; "a red star in the top right on a very … green background" is 76
    const long = `a red star and a circle on a ${'very '.repeat(65)}green background`;
    expect(tokenizer.encode(long).droppedTokens).toBe(0);
    const r = await generate(composing().m, { ...TWO, prompt: long });
    expect(r.regions).toBeUndefined();
    expect(r.droppedTokens.prompt).toBe(0);
  });

  it('draws a prompt whole where regions are off, or it names one object or four', async () => {
    const whole = await generate(composing().m, { ...TWO, regions: false });
    const { regions: _, ...unsaid } = TWO;
    for (const [req, pack] of [
      [unsaid, undefined], // the pack says nothing: whole
      [{ ...TWO, prompt: 'a red star on a green background' }, true],
      [{ ...TWO, prompt: 'a red star, a blue circle, a pink ring and a gray heart on a green background' }, true],
    ] as const) {
      const made = composing({}, pack);
      const r = await generate(made.m, req);
      expect(r.regions).toBeUndefined();
      expect(made.sessions.unet.calls.map((f) => f.sample!.dims[0])).toEqual(Array(7).fill(2));
    }
    expect(whole.regions).toBeUndefined();
  });

  it('follows the pack\'s image.regions where the request says nothing, and refuses a regions that is not true or false', async () => {
    const { regions: _, ...unsaid } = TWO;
    const r = await generate(composing({}, true).m, unsaid);
    expect(r.regions).toHaveLength(2);
    expect(r.request.regions).toBe(true);
    await expect(generate(composing().m, { ...TWO, regions: 'yes' as unknown as boolean })).rejects.toMatchObject({ code: 'bad-request', detail: { field: 'regions' } });
  });
});

describe('upscaleLatents', () => {
  it('is torch\'s bilinear interpolate with align_corners=False', () => {
    const up = upscaleLatents(Float32Array.from([0, 1, 2, 3]), [1, 2, 2], [4, 4]);
    expect(Array.from(up)).toEqual([0, 0.25, 0.75, 1, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2, 2.25, 2.75, 3]);
    // not square, not a whole factor (5×3 → 8×4, as a 320×192 layout to 512×256 is not): torch's own figures
    const odd = upscaleLatents(Float32Array.from({ length: 15 }, (_, i) => i ** 1.5), [1, 3, 5], [4, 8]);
    const torch = [0, 0.4375, 1.1142766953, 2.2570436483, 3.5683412804, 5.0481695916, 6.7733166849, 8, 6.9877124297, 8.113344851,
      9.7527887618, 11.6748110257, 13.7154692279, 15.8747633682, 18.2193655922, 19.875, 18.8462536553, 20.6051830917, 23.1352235118,
      25.8208206733, 28.5872376408, 31.4344744143, 34.4189186354, 36.5187012806, 31.6227766017, 33.749068642, 36.8007693619,
      39.9797360417, 43.2263903815, 46.5407323811, 49.9721248, 52.3832034148];
    Array.from(odd).forEach((v, i) => expect(v).toBeCloseTo(torch[i]!, 4));
  });
});

describe('toRgba', () => {
  it('maps [-1, 1] to bytes with opaque alpha', () => {
    const planar = Float32Array.from([-1, 0, 1, -2, /* g */ 1, 1, 1, 1, /* b */ 0, 0, 0, 0]);
    const px = toRgba(planar, 2, 2);
    expect(Array.from(px)).toEqual([0, 255, 128, 255, 128, 255, 128, 255, 255, 255, 128, 255, 0, 255, 128, 255]);
  });
});
