// Text to image, as diffusers' StableDiffusionPipeline.__call__ does it:
//   1. validate the request once; 2. tokenize and encode prompt and negative prompt;
//   3. seeded initial latents × the scheduler's initial σ;
//   4. for each timestep: ε for both prompts (one batch of 2 where the UNet allows it), classifier-free
//      guidance ε = ε_u + g (ε_c − ε_u) (Ho & Salimans 2022, eq. 6), scheduler step;
//   5. decode latents / scaling factor with the VAE; 6. pixels in [−1, 1] to RGBA bytes.
import { aborted } from '../errors';
import { SeededRandom } from '../random';
import { createScheduler, type SchedulerConfig } from '../schedulers';
import type { ClipTokenizer } from '../tokenizer/clip-tokenizer';
import type { Tensor } from './model-session';
import type { TextEncoderNet, UNetNet, VaeDecoderNet } from './networks';
import { decodeTiled, type TileOptions } from './tiled-vae';
import { DEFAULT_DOWNSCALE, validateRequest, type GenerateRequest, type ImageLimits, type ValidRequest } from './request';

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
  const t1 = performance.now();

  const guided = req.guidanceScale > 1;
  const unet = models.unet;
  // The text batches the UNet will be called with: [uncond, cond] together when it takes a guidance
  // batch, one prompt per call otherwise; a UNet fixed at batch 2 gets the prompt twice without guidance.
  const batches: Int32Array[][] = guided
    ? unet.takesGuidanceBatch ? [[uncond.ids, cond.ids]] : [[uncond.ids], [cond.ids]]
    : [Array.from({ length: unet.batchFor(1) }, () => cond.ids)];
  // Inside the try: when the second prompt's encode fails, the first one's GPU tensor is released too.
  const contexts: Tensor[] = [];
  try {
    for (const b of batches) contexts.push(await models.textEncoder.encode(b));
    await models.afterStage?.('text_encoder');
    const t2 = performance.now();
    checkAbort();
    const rng = new SeededRandom(req.seed);
    const scheduler = createScheduler(req.scheduler, models.schedulerConfig, { noise: (n) => rng.gaussian(n) });
    scheduler.setTimesteps(req.steps);
    const dims = [1, models.latentChannels ?? 4, req.height / f, req.width / f];
    let latents: Float32Array = rng.gaussian(dims.reduce((a, b) => a * b));
    for (let i = 0; i < latents.length; i++) latents[i]! *= scheduler.initNoiseSigma;

    const unetMs: number[] = [];
    let schedulerMs = 0;
    const steps = scheduler.timesteps;
    const loopStart = performance.now();
    let previewMs = 0;
    for (let k = 0; k < steps.length; k++) {
      await yieldToEventLoop();
      checkAbort();
      const t = steps[k]!;
      const s0 = performance.now();
      const input = scheduler.scaleModelInput(latents, t);
      const s1 = performance.now();
      const out: Float32Array[] = [];
      for (const c of contexts) out.push(...(await unet.predict(input, dims, t, c)));
      let eps = out[0]!;
      if (guided) {
        const [epsU, epsC] = [out[0]!, out[1]!];
        eps = new Float32Array(latents.length);
        for (let i = 0; i < eps.length; i++) eps[i] = epsU[i]! + req.guidanceScale * (epsC[i]! - epsU[i]!);
      }
      const s2 = performance.now();
      const stepped = scheduler.step(eps, t, latents);
      latents = stepped.prevSample;
      const s3 = performance.now();
      unetMs.push(s2 - s1);
      schedulerMs += s1 - s0 + (s3 - s2);
      const pending = onProgress?.({
        step: k + 1, totalSteps: steps.length, timestep: t, elapsedMs: s3 - t0, loopElapsedMs: s3 - loopStart - previewMs, latents,
        denoised: stepped.predOriginalSample ?? latents, latentDims: [dims[1]!, dims[2]!, dims[3]!],
      });
      if (pending) {
        await pending;
        previewMs += performance.now() - s3;
      }
    }
    checkAbort();
    await models.afterStage?.('unet');

    const v0 = performance.now();
    const pixels = await decodeLatents(models, latents, [dims[1]!, dims[2]!, dims[3]!], options.vaeTiles);
    await models.afterStage?.('vae_decoder');
    const v1 = performance.now();
    return {
      pixels, width: req.width, height: req.height, request: req,
      timings: { tokenizeMs: t1 - t0, textEncoderMs: t2 - t1, unetMs, schedulerMs, vaeMs: v1 - v0, previewMs, totalMs: v1 - t0 },
      droppedTokens: { prompt: cond.droppedTokens, negativePrompt: uncond.droppedTokens },
    };
  } finally {
    for (const c of contexts) if (c.location === 'device') c.dispose();
  }
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
