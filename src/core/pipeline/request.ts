// A generation request, its defaults, and the one place it is checked (diffusers' check_inputs).
import { badRequest } from '../errors';
import { isSchedulerName, SCHEDULERS, type SchedulerName } from '../schedulers';

export interface GenerateRequest {
  readonly prompt: string;
  readonly negativePrompt?: string;
  readonly steps?: number;
  readonly width?: number;
  readonly height?: number;
  readonly guidanceScale?: number;
  readonly seed?: number;
  readonly scheduler?: string;
  /** Above the pack's layout size (its `image.layoutSize`), draw in two passes (true, the default) or one. */
  readonly twoPass?: boolean;
}

export type ValidRequest = Required<Omit<GenerateRequest, 'scheduler'>> & { readonly scheduler: SchedulerName };

/** What a pack allows (manifest `image`), or a UNet with a baked-in latent size. */
export interface ImageLimits {
  readonly minSize: number;
  readonly maxSize: number;
  readonly multipleOf: number;
  /** Only this size, when the UNet export fixed its latent height and width. */
  readonly fixed?: readonly [width: number, height: number];
  /** Image pixels per latent pixel (the pack's `vae.downscaleFactor`; DEFAULT_DOWNSCALE where unsaid). */
  readonly downscaleFactor?: number;
  /** The sizes the weights were trained at ("256x256"), where the pack says (its `image.trainedSizes`). */
  readonly trained?: readonly string[];
  /** The size the weights lay a picture out at (its `image.layoutSize`): larger ones are drawn in two passes. */
  readonly layout?: readonly [width: number, height: number];
}

/** The share of the steps the second pass of a two-pass picture denoises (diffusers' img2img `strength`):
 *  the upscaled layout is noised to the grid's timestep there, so the layout stays and the detail is redrawn. */
export const LAYOUT_STRENGTH = 0.4;

/**
 * The size a width × height picture is laid out at before its second pass, or undefined where it is no
 * larger than the pack's layout size (or the pack names none): about the same aspect ratio in the layout
 * size's area, each side the nearest multiple of `multipleOf` (at least one), the longer cut while the
 * area is over. training/shapes/evaluate.py's `layout_for` draws the recipe's two-pass pictures the same way.
 */
export function layoutFor(limits: ImageLimits, width: number, height: number): readonly [number, number] | undefined {
  if (!limits.layout || limits.fixed) return undefined;
  const area = limits.layout[0] * limits.layout[1];
  if (width * height <= area) return undefined;
  const m = limits.multipleOf;
  const s = Math.sqrt(area / (width * height));
  let w = Math.max(m, Math.floor((width * s) / m + 0.5) * m);
  let h = Math.max(m, Math.floor((height * s) / m + 0.5) * m);
  while (w * h > area) {
    if (w >= h && w > m) w -= m;
    else if (h > m) h -= m;
    else break;
  }
  return [w, h];
}

/** The grid steps a second pass skips and the UNet steps it takes (diffusers' img2img `t_start`; at least one
 *  step is taken, so a 1- or 2-step picture is still finished at its own size). */
export function secondPassSteps(steps: number, strength = LAYOUT_STRENGTH): { readonly skip: number; readonly steps: number } {
  const own = Math.min(steps, Math.max(1, Math.floor(steps * strength)));
  return { skip: steps - own, steps: own };
}

/** What to tell a person who chose a size the weights were never trained at (a UNet trained at 256×256
 *  repeats its objects at 512×512, as SD 1.5 does at 1024×1024), or '' where the size is one of them or
 *  the pack does not say. Only the trained sizes the pack allows are named. */
export function untrainedSizeNote(limits: ImageLimits, width: number, height: number, twoPass = true, steps: number = DEFAULTS.steps): string {
  const trained = limits.trained;
  // a fixed-size export allows one size, and its status line already says so
  if (limits.fixed) return '';
  const px = ([w, h]: readonly [number, number]) => `${w}×${h}`;
  if (limits.layout) {
    const lay = layoutFor(limits, width, height);
    if (!lay) return '';
    if (twoPass) {
      const { steps: own } = secondPassSteps(steps);
      return `Two passes: this model composes pictures at ${px(limits.layout)}, so ${width}×${height} is laid out at ${px(lay)} in ${steps} steps, then upscaled and redrawn at full size in ${own} more.`;
    }
    return `One pass at ${width}×${height}: this model composes pictures at ${px(limits.layout)}, so it may repeat objects or follow the prompt less well. "Two passes" gives its best pictures at this size.`;
  }
  if (!trained?.length || trained.includes(`${width}x${height}`)) return '';
  const sizes = trained
    .map((t) => t.split('x').map(Number) as [number, number])
    .filter((wh) => wh.every((v) => v >= limits.minSize && v <= limits.maxSize && v % limits.multipleOf === 0));
  if (!sizes.length) return '';
  const best = sizes.reduce((a, b) => (b[0] * b[1] > a[0] * a[1] ? b : a));
  const named = sizes.length > 4 ? `${sizes.slice(0, 4).map(px).join(', ')} and ${sizes.length - 4} more` : sizes.map(px).join(' or ');
  return `This model was trained at ${named}; at ${width}×${height} it may repeat objects or follow the prompt less well. ${px(best)} gives its best pictures.`;
}

/** The VAE's downscale factor of every Stable Diffusion (KL-f8), for callers that know no pack. */
export const DEFAULT_DOWNSCALE = 8;

export const DEFAULTS = Object.freeze({
  negativePrompt: '',
  steps: 20,
  width: 512,
  height: 512,
  guidanceScale: 7.5,
  seed: 0,
  scheduler: 'pndm' as SchedulerName,
  twoPass: true,
});

export const LIMITS = Object.freeze({ minSteps: 1, maxSteps: 100, maxGuidance: 30, maxPromptChars: 20_000 });

/** Fill defaults and check every field once; throws a 'bad-request' PocketError naming the field. */
export function validateRequest(req: GenerateRequest, limits: ImageLimits): ValidRequest {
  const r = { ...DEFAULTS, ...definedOnly(req), prompt: req.prompt };
  if (typeof r.prompt !== 'string') throw badRequest('prompt', 'The prompt must be text.');
  if (r.prompt.length > LIMITS.maxPromptChars) {
    throw badRequest('prompt', `The prompt is ${r.prompt.length} characters long; keep it under ${LIMITS.maxPromptChars} (the model reads only the first 75 tokens anyway).`);
  }
  if (typeof r.negativePrompt !== 'string') throw badRequest('negativePrompt', 'The negative prompt must be text.');
  if (!Number.isInteger(r.steps) || r.steps < LIMITS.minSteps || r.steps > LIMITS.maxSteps) {
    throw badRequest('steps', `Steps must be a whole number from ${LIMITS.minSteps} to ${LIMITS.maxSteps}; got ${r.steps}.`);
  }
  const f = limits.downscaleFactor ?? DEFAULT_DOWNSCALE;
  for (const [field, v] of [['width', r.width], ['height', r.height]] as const) {
    if (!Number.isInteger(v) || v % f !== 0 || v % limits.multipleOf !== 0) {
      throw badRequest(field, `The ${field} must be a multiple of ${Math.max(f, limits.multipleOf)} pixels; got ${v}.`);
    }
    if (v < limits.minSize || v > limits.maxSize) {
      throw badRequest(field, `The ${field} must be from ${limits.minSize} to ${limits.maxSize} pixels for this model; got ${v}.`);
    }
  }
  if (limits.fixed && (r.width !== limits.fixed[0] || r.height !== limits.fixed[1])) {
    throw badRequest('width', `This model was exported for ${limits.fixed[0]}×${limits.fixed[1]} only; choose that size.`);
  }
  if (typeof r.guidanceScale !== 'number' || !Number.isFinite(r.guidanceScale) || r.guidanceScale < 1 || r.guidanceScale > LIMITS.maxGuidance) {
    throw badRequest('guidanceScale', `Guidance must be a number from 1 (no guidance) to ${LIMITS.maxGuidance}; got ${r.guidanceScale}.`);
  }
  if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > 0xffffffff) {
    throw badRequest('seed', `The seed must be a whole number from 0 to 4294967295; got ${r.seed}.`);
  }
  if (typeof r.twoPass !== 'boolean') throw badRequest('twoPass', `twoPass must be true or false; got ${String(r.twoPass)}.`);
  if (!isSchedulerName(r.scheduler)) {
    throw badRequest('scheduler', `Unknown scheduler "${r.scheduler}"; choose one of ${Object.keys(SCHEDULERS).join(', ')}.`);
  }
  return { ...r, prompt: r.prompt, scheduler: r.scheduler };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
