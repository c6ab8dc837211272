// Text to image, as diffusers' StableDiffusionPipeline.__call__ does it:
//   1. validate the request once; 2. tokenize and encode prompt and negative prompt;
//   3. seeded initial latents × the scheduler's initial σ;
//   4. for each timestep: ε for both prompts (one batch of 2 where the UNet allows it), classifier-free
//      guidance ε = ε_u + g (ε_c − ε_u) (Ho & Salimans 2022, eq. 6), scheduler step;
//   5. decode latents / scaling factor with the VAE; 6. pixels in [−1, 1] to RGBA bytes.
// Above a pack's layout size (its `image.layoutSize`), step 4 runs twice, as SD front-ends' "hires fix":
// the picture is laid out at a size the weights compose at, its latents upscaled (bilinear), noised to the
// grid's timestep at strength 0.4 (diffusers' img2img start) and denoised there at full size.
// A prompt that names two or three objects may be drawn with regional prompts in the first (or only) pass:
// each object's caption guides its own part of the latents (regions.ts); the second pass reads the prompt whole.
import { aborted } from '../errors';
import { SeededRandom } from '../random';
import { createScheduler, type Scheduler, type SchedulerConfig } from '../schedulers';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer';
import type { Tensor } from './model-session';
import type { TextEncoderNet, UNetNet, VaeDecoderNet } from './networks';
import { planRegions, regionMasks, type Region } from './regions';
import { decodeTiled, type TileOptions } from './tiled-vae';
import { DEFAULT_DOWNSCALE, LAYOUT_STRENGTH, planPasses, validateRequest, type GenerateRequest, type ImageLimits, type ValidRequest } from './request';

export interface PipelineModels {
  readonly tokenizer: ClipTokenizer;
  readonly textEncoder: TextEncoderNet;
  readonly unet: UNetNet;
  readonly vae: VaeDecoderNet;
  readonly vaeScalingFactor: number;
  readonly schedulerConfig: SchedulerConfig;
  readonly limits: ImageLimits;
  readonly latentChannels?: number;
  /** Image pixels per latent pixel (the pack's `vae.downscaleFactor`); DEFAULT_DOWNSCALE where absent. */
  readonly downscaleFactor?: number;
  /**
   * Called when a network's part of the run is over (low-memory mode releases its session there, so
   * only one network is in memory at a time: text encoder → UNet → VAE decoder).
   */
  readonly afterStage?: (stage: 'text_encoder' | 'unet' | 'vae_decoder') => Promise<void>;
}

export interface Progress {
  readonly step: number;
  readonly totalSteps: number;
  readonly timestep: number;
  readonly elapsedMs: number;
  /** Since the denoising loop began (what the pace of the steps is measured from). */
  readonly loopElapsedMs: number;
  /** The current latents [1, c, h/f, w/f] (f: the VAE's downscale factor). */
  readonly latents: Float32Array;
  /** The scheduler's estimate of the final latents (x̂0) where it gives one, else the latents: what a
   * live preview shows. */
  readonly denoised: Float32Array;
  /** [c, h/f, w/f] of both. */
  readonly latentDims: readonly [number, number, number];
  /** In a two-pass run, which pass this step belongs to (the layout's, at its smaller size, or the full size's). */
  readonly pass?: 'layout' | 'full';
  /** The UNet work done and in all, in full-size calls (a layout call at a quarter of the latent pixels counts
   *  a quarter): what the time left is paced on when the size changes mid-run. */
  readonly workDone: number;
  readonly workTotal: number;
}

export interface Timings {
  readonly tokenizeMs: number;
  readonly textEncoderMs: number;
  /** One entry per UNet step (both guidance halves). */
  readonly unetMs: readonly number[];
  readonly schedulerMs: number;
  readonly vaeMs: number;
  /** Time spent in an awaited progress callback (a full VAE preview), included in totalMs. */
  readonly previewMs: number;
  readonly totalMs: number;
}

export interface GenerateResult {
  /** RGBA, row-major, width × height × 4. */
  readonly pixels: Uint8ClampedArray;
  readonly width: number;
  readonly height: number;
  readonly request: ValidRequest;
  /**
   * Where the picture was drawn in two passes (above the pack's layout size): the first pass's size, its
   * UNet calls (the first `calls` of timings.unetMs; the rest are the second pass's, at full size), the steps
   * at full size, and the strength the second pass started from.
   */
  readonly layout?: { readonly width: number; readonly height: number; readonly calls: number; readonly fullSteps: number; readonly strength: number };
  /** Where the prompt's objects were drawn apart (regional prompts, in the first pass): each one's caption and point. */
  readonly regions?: readonly Region[];
  readonly timings: Timings;
  /** Prompt tokens beyond the model's 75 that it did not read (prompt, negative prompt). */
  readonly droppedTokens: { readonly prompt: number; readonly negativePrompt: number };
}

export interface GenerateOptions {
  readonly signal?: AbortSignal;
  /** Decode the VAE in overlapping tiles (less GPU memory for large images; see tiled-vae.ts). */
  readonly vaeTiles?: TileOptions;
  /** Awaited when it returns a promise (a full VAE preview decodes before the next step). */
  readonly onProgress?: (p: Progress) => void | Promise<void>;
}

export async function generate(models: PipelineModels, request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
  const { signal, onProgress } = options;
  const f = models.downscaleFactor ?? DEFAULT_DOWNSCALE;
  const req = validateRequest(request, { ...models.limits, downscaleFactor: f });
  const checkAbort = () => {
    if (signal?.aborted) throw aborted();
  };
  checkAbort();
  const t0 = performance.now();

  const cond = models.tokenizer.encode(req.prompt);
  const uncond = models.tokenizer.encode(req.negativePrompt);

  const guided = req.guidanceScale > 1;
  const unet = models.unet;
  // Regional prompts where asked and the prompt names objects to draw apart; not where a caption, its place added,
  // would lose words of the prompt past the 75 tokens the text encoder reads.
  const planned = req.regions ? planRegions(req.prompt, req.seed) : undefined;
  const captions = planned?.map((r) => models.tokenizer.encode(r.prompt));
  const regions = captions?.every((c) => c.droppedTokens <= cond.droppedTokens) ? planned : undefined;
  const regionIds = regions && captions!.map((c) => c.ids);
  const plan = planPasses(models.limits, req);
  const t1 = performance.now();
  // Inside the try: when the second prompt's encode fails, the first one's GPU tensor is released too.
  const contexts: Tensor[] = [];
  try {
    const texts = (prompts: Int32Array[]) => [...(guided ? [uncond.ids] : []), ...prompts];
    // the prompt whole: for every pass without regions (none, in one regional pass)
    const plain = !regionIds || plan ? await guide(models, texts([cond.ids]), contexts) : { contexts: [], items: guided ? 2 : 1 };
    const firstGuide = regionIds ? await guide(models, texts(regionIds), contexts) : plain;
    await models.afterStage?.('text_encoder');
    const t2 = performance.now();
    checkAbort();
    const rng = new SeededRandom(req.seed);
    const full = [models.latentChannels ?? 4, req.height / f, req.width / f] as const;
    const first = plan ? [full[0], plan.layout[1] / f, plan.layout[0] / f] as const : full;
    const firstScheduler = createScheduler(req.scheduler, models.schedulerConfig, { noise: (n) => rng.gaussian(n) });
    firstScheduler.setTimesteps(req.steps);
    // Two passes: the second pass's scheduler, set up now so progress can count every UNet call from the start,
    // with its own noise stream (seed + 2^20), so that the first pass is the same picture as a one-pass run at
    // the layout size.
    const second = plan && (() => {
      const noise = new SeededRandom((req.seed + 2 ** 20) % 2 ** 32);
      const scheduler = createScheduler(req.scheduler, models.schedulerConfig, { noise: (n) => noise.gaussian(n) });
      scheduler.setTimesteps(req.steps);
      scheduler.beginAt(plan.skip);
      return { scheduler, noise };
    })();
    const secondScheduler = second?.scheduler;
    // A unit of work: one full-size step of the prompt whole (a regional step's extra captions cost more).
    const firstWork = (first[1] * first[2] * firstGuide.items) / (full[1] * full[2] * plain.items);
    const loop: Loop = {
      unet, guidance: guided ? req.guidanceScale : undefined, checkAbort, onProgress, t0,
      loopStart: performance.now(), unetMs: [], schedulerMs: 0, previewMs: 0,
      totalCalls: firstScheduler.timesteps.length + (secondScheduler?.timesteps.length ?? 0),
      workDone: 0, workTotal: firstScheduler.timesteps.length * firstWork + (secondScheduler?.timesteps.length ?? 0),
    };
    let latents: Float32Array = rng.gaussian(first.reduce((a, b) => a * b));
    for (let i = 0; i < latents.length; i++) latents[i]! *= firstScheduler.initNoiseSigma;
    const masks = regions && regionMasks(regions.map((r) => r.point), first[1], first[2]);
    latents = await denoise(loop, firstScheduler, latents, first, { ...firstGuide, masks, work: firstWork }, second && 'layout');
    if (second) {
      // hires fix: upscale the layout's latents (bilinear), noise them to the first step left, finish at full size
      const up = upscaleLatents(latents, first, [full[1], full[2]]);
      latents = await denoise(loop, second.scheduler, second.scheduler.addNoise(up, second.noise.gaussian(up.length)), full, { ...plain, work: 1 }, 'full');
    }
    checkAbort();
    await models.afterStage?.('unet');
    const { unetMs, schedulerMs, previewMs } = loop;

    const v0 = performance.now();
    const pixels = await decodeLatents(models, latents, full, options.vaeTiles);
    await models.afterStage?.('vae_decoder');
    const v1 = performance.now();
    return {
      pixels, width: req.width, height: req.height, request: req,
      ...(plan ? { layout: { width: plan.layout[0], height: plan.layout[1], calls: firstScheduler.timesteps.length, fullSteps: plan.fullSteps, strength: LAYOUT_STRENGTH } } : {}),
      ...(regions ? { regions } : {}),
      timings: { tokenizeMs: t1 - t0, textEncoderMs: t2 - t1, unetMs, schedulerMs, vaeMs: v1 - v0, previewMs, totalMs: v1 - t0 },
      droppedTokens: { prompt: cond.droppedTokens, negativePrompt: uncond.droppedTokens },
    };
  } finally {
    for (const c of contexts) if (c.location === 'device') c.dispose();
  }
}

/** The text a pass's UNet calls read: encoded per call batch, `items` prompts in all ([uncond,] cond, or
 *  [uncond,] one caption per region), padding past them dropped. */
interface Guide {
  readonly contexts: readonly Tensor[];
  readonly items: number;
}

/**
 * The text batches the UNet is called with, encoded: all the prompts in one call where its batch is dynamic
 * ([uncond, cond] together: a guidance batch), one per call where it is fixed at 1, pairs where it is fixed at
 * 2 (the last padded with itself: a UNet fixed at batch 2 gets the prompt twice without guidance). Each
 * context is also pushed to `all`, which the caller disposes.
 */
async function guide(models: PipelineModels, texts: readonly Int32Array[], all: Tensor[]): Promise<Guide> {
  const per = models.unet.batchFor(texts.length);
  const contexts: Tensor[] = [];
  for (let i = 0; i < texts.length; i += per) {
    const batch = texts.slice(i, i + per);
    while (batch.length < per) batch.push(batch[batch.length - 1]!);
    const c = await models.textEncoder.encode(batch);
    all.push(c);
    contexts.push(c);
  }
  return { contexts, items: texts.length };
}

/** One denoising pass's shared state: what every step needs, and the timings the passes add to. */
interface Loop {
  readonly unet: UNetNet;
  /** The guidance scale, or undefined without classifier-free guidance. */
  readonly guidance: number | undefined;
  readonly checkAbort: () => void;
  readonly onProgress: GenerateOptions['onProgress'];
  readonly t0: number;
  readonly loopStart: number;
  readonly totalCalls: number;
  readonly unetMs: number[];
  readonly workTotal: number;
  workDone: number;
  schedulerMs: number;
  previewMs: number;
}

/** The denoising loop over a scheduler's timesteps from `latents` ([c, h, w] with a batch of one); `pass` names
 *  the pass of a two-pass run in its progress. */
async function denoise(loop: Loop, scheduler: Scheduler, start: Float32Array, latentDims: readonly [number, number, number],
  text: Guide & { readonly masks?: readonly Float32Array[] | undefined; readonly work: number }, pass?: 'layout' | 'full'): Promise<Float32Array> {
  const dims = [1, ...latentDims];
  const plane = latentDims[1] * latentDims[2];
  const cond = loop.guidance !== undefined ? 1 : 0; // where the conditional predictions start in `out`
  let latents = start;
  for (const t of scheduler.timesteps) {
    await yieldToEventLoop();
    loop.checkAbort();
    const s0 = performance.now();
    const input = scheduler.scaleModelInput(latents, t);
    const s1 = performance.now();
    const out: Float32Array[] = [];
    for (const c of text.contexts) out.push(...(await loop.unet.predict(input, dims, t, c)));
    let eps = out[cond]!;
    if (text.masks) {
      // regional prompts: each caption's ε where its mask is
      eps = new Float32Array(latents.length);
      text.masks.forEach((m, r) => {
        const e = out[cond + r]!;
        for (let i = 0; i < eps.length; i++) eps[i]! += m[i % plane]! * e[i]!;
      });
    }
    if (loop.guidance !== undefined) {
      const [epsU, epsC, g] = [out[0]!, eps, loop.guidance];
      eps = new Float32Array(latents.length);
      for (let i = 0; i < eps.length; i++) eps[i] = epsU[i]! + g * (epsC[i]! - epsU[i]!);
    }
    const s2 = performance.now();
    const stepped = scheduler.step(eps, t, latents);
    latents = stepped.prevSample;
    const s3 = performance.now();
    loop.unetMs.push(s2 - s1);
    loop.workDone += text.work;
    loop.schedulerMs += s1 - s0 + (s3 - s2);
    const pending = loop.onProgress?.({
      step: loop.unetMs.length, totalSteps: loop.totalCalls, timestep: t, elapsedMs: s3 - loop.t0,
      loopElapsedMs: s3 - loop.loopStart - loop.previewMs, latents, denoised: stepped.predOriginalSample ?? latents, latentDims,
      ...(pass ? { pass } : {}), workDone: loop.workDone, workTotal: loop.workTotal,
    });
    if (pending) {
      await pending;
      loop.previewMs += performance.now() - s3;
    }
  }
  return latents;
}

/** Latents [c, h, w] resized to [c, h2, w2] bilinearly, as torch's interpolate(mode="bilinear",
 *  align_corners=False) does (each output pixel centre mapped back; edges clamped). */
export function upscaleLatents(latents: Float32Array, dims: readonly [number, number, number], to: readonly [number, number]): Float32Array {
  const [c, h, w] = dims;
  const [h2, w2] = to;
  const out = new Float32Array(c * h2 * w2);
  const axis = (n: number, n2: number) => Array.from({ length: n2 }, (_, i) => {
    const src = Math.max(0, ((i + 0.5) * n) / n2 - 0.5);
    const lo = Math.min(Math.floor(src), n - 1);
    return [lo, Math.min(lo + 1, n - 1), src - lo] as const;
  });
  const ys = axis(h, h2);
  const xs = axis(w, w2);
  for (let ch = 0; ch < c; ch++) {
    const plane = ch * h * w;
    for (let y = 0; y < h2; y++) {
      const [y0, y1, wy] = ys[y]!;
      for (let x = 0; x < w2; x++) {
        const [x0, x1, wx] = xs[x]!;
        const top = latents[plane + y0 * w + x0]! * (1 - wx) + latents[plane + y0 * w + x1]! * wx;
        const bottom = latents[plane + y1 * w + x0]! * (1 - wx) + latents[plane + y1 * w + x1]! * wx;
        out[ch * h2 * w2 + y * w2 + x] = top * (1 - wy) + bottom * wy;
      }
    }
  }
  return out;
}

/** Latents [c, h/f, w/f] → RGBA through the VAE decoder, divided by the pack's scaling factor first. */
export async function decodeLatents(models: PipelineModels, latents: Float32Array, latentDims: readonly [number, number, number], tiles?: TileOptions): Promise<Uint8ClampedArray> {
  const [c, h, w] = latentDims;
  const f = models.downscaleFactor ?? DEFAULT_DOWNSCALE;
  const scaled = latents.map((v) => v / models.vaeScalingFactor);
  const planar = tiles
    ? await decodeTiled(scaled, latentDims, async (t, d) => (await models.vae.decode(t, d)).data, tiles, f)
    : (await models.vae.decode(scaled, [1, c, h, w])).data;
  return toRgba(planar, w * f, h * f);
}

/** The one part of a MessagePort used below (Node's and the DOM's MessagePort typings disagree). */
interface MinimalPort {
  onmessage: (() => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

/**
 * Let queued events run. A WASM session's run() can resolve through microtasks alone, so without a
 * macrotask turn between steps a cancel message (a worker's onmessage) would wait for the whole
 * generation to finish.
 */
function yieldToEventLoop(): Promise<void> {
  // A MessageChannel message is a macrotask without setTimeout's 4 ms clamp on nested timers.
  return new Promise((resolve) => {
    // Typed by hand: Node's and the DOM's MessagePort typings disagree; both have onmessage.
    const channel = new MessageChannel() as unknown as { port1: MinimalPort; port2: MinimalPort };
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/** Planar [3, h, w] in [−1, 1] to interleaved RGBA bytes (x / 2 + 0.5, clamped, rounded). */
export function toRgba(planar: Float32Array, width: number, height: number): Uint8ClampedArray {
  const n = width * height;
  if (planar.length < 3 * n) throw new Error(`VAE output has ${planar.length} values, expected ${3 * n}`);
  const out = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    out[4 * i] = Math.round((planar[i]! / 2 + 0.5) * 255);
    out[4 * i + 1] = Math.round((planar[n + i]! / 2 + 0.5) * 255);
    out[4 * i + 2] = Math.round((planar[2 * n + i]! / 2 + 0.5) * 255);
    out[4 * i + 3] = 255;
  }
  return out;
}
