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
  /** A prompt that names two or three objects: draw each from its own caption in its own region (regional
   *  prompts, regions.ts) or the prompt whole. Unsaid: the pack's choice (its `image.regions`), else whole. */
  readonly regions?: boolean;
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
  /** Whether prompts that name two or three objects are drawn with regional prompts unless a request says
   *  otherwise (the pack's `image.regions`: its makers measured that it binds them better). */
  readonly regions?: boolean;
}

/** The share of the steps the second pass of a two-pass picture denoises (diffusers' img2img `strength`):
 *  the upscaled layout is noised to the grid's timestep there, so the layout stays and the detail is redrawn. */
export const LAYOUT_STRENGTH = 0.4;

/** How far a layout's aspect ratio may stray from the picture's (the upscale stretches it back). */
const MAX_ASPECT_STRAY = 1.15;

/**
 * The size a width × height picture is laid out at before its second pass, or undefined where it is no
 * larger than the pack's layout size (or the pack names none): the largest size in the layout size's area,
 * each side a multiple of `multipleOf`, whose aspect ratio is within 15 % of the picture's. Where that area
 * holds none (a 3:2 picture at a 128×128 layout, in 64-px steps: only 128×128 or 128×64), the largest within
 * twice the area whose shorter side is no longer than the layout's — the scale the weights compose at, kept
 * on the short side (192×128) —, else the closest ratio in the area (the larger of two as close). training/shapes/evaluate.py's
 * `layout_for` lays the recipe's two-pass pictures out the same way.
 */
export function layoutFor(limits: ImageLimits, width: number, height: number): readonly [number, number] | undefined {
  if (!limits.layout || limits.fixed) return undefined;
  const area = limits.layout[0] * limits.layout[1];
  if (width * height <= area) return undefined;
  const m = limits.multipleOf;
  const short = Math.min(...limits.layout);
  const stray = (w: number, h: number) => Math.abs(Math.log(w / h) - Math.log(width / height));
  let best: [number, number] | undefined;
  let bestKey: [number, number] = [Infinity, Infinity];
  for (let w = m; w * m <= 2 * area; w += m) {
    for (let h = m; w * h <= 2 * area; h += m) {
      // within the stray allowed, the largest area in the layout's (then the closer ratio); then the largest
      // in twice the area, short side kept; else the closest ratio in the area
      const s = stray(w, h);
      const near = s <= Math.log(MAX_ASPECT_STRAY) + 1e-12;
      let key: [number, number];
      if (w * h <= area) key = near ? [0, -w * h + s * 1e-3] : [2, s - w * h * 1e-9];
      else if (near && Math.min(w, h) <= short) key = [1, -w * h + s * 1e-3];
      else continue;
      if (key[0] < bestKey[0] || (key[0] === bestKey[0] && key[1] < bestKey[1])) [best, bestKey] = [[w, h], key];
    }
  }
  return best;
}

/** The UNet steps of a two-pass picture's second pass: 40 % of the steps, rounded up (diffusers' img2img rounds
 *  down; rounded up, its first timestep stays within one grid step of 0.4 of the schedule at any step count —
 *  at 4 steps t = 251, where rounding down leaves one step at t = 1, a bare upscale). 8 of 20, as the recipe. */
export function secondPassSteps(steps: number): number {
  return Math.ceil(Math.round(steps * LAYOUT_STRENGTH * 1e6) / 1e6);
}

export interface PassPlan {
  /** The first pass's size. */
  readonly layout: readonly [number, number];
  /** Grid steps the second pass skips (diffusers' `t_start`), and the steps it takes at full size. */
  readonly skip: number;
  readonly fullSteps: number;
}

/**
 * Whether a request is drawn in two passes, and how: above the pack's layout size, when the person has not
 * turned it off and there are at least 3 steps (fewer leave no second pass worth the name). The pipeline,
 * the estimate and the note beside the size all ask this one function.
 */
export function planPasses(limits: ImageLimits, r: { readonly width: number; readonly height: number; readonly steps: number; readonly twoPass: boolean }): PassPlan | undefined {
  if (!r.twoPass || !Number.isInteger(r.steps) || r.steps < 3 || r.steps > LIMITS.maxSteps) return undefined;
  const layout = layoutFor(limits, r.width, r.height);
  if (!layout) return undefined;
  const fullSteps = secondPassSteps(r.steps);
  return { layout, skip: r.steps - fullSteps, fullSteps };
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
    const composes = `this model learned to compose pictures at ${px(limits.layout)}`;
    const risk = 'so it may repeat objects or follow the prompt less well';
    if (!twoPass) return `One pass at ${width}×${height}: ${composes}, ${risk}. "Two passes" gives its best pictures at this size.`;
    const plan = planPasses(limits, { width, height, steps, twoPass });
    if (plan) return `Two passes: ${composes}, so ${width}×${height} is sketched at ${px(plan.layout)} (${steps} steps), then enlarged and redrawn (${plan.fullSteps} more steps): its best pictures at this size.`;
    if (Number.isInteger(steps) && steps >= 1 && steps < 3) {
      return `At ${steps} step${steps === 1 ? '' : 's'} (too few to split) ${width}×${height} is drawn in one pass: ${composes}, ${risk}. 3 or more steps draw it in two passes, its best pictures at this size.`;
    }
    return `Two passes: ${composes}, so ${width}×${height} is sketched at ${px(lay)} first, then enlarged and redrawn: its best pictures at this size.`;
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
  const r = { ...DEFAULTS, regions: limits.regions ?? false, ...definedOnly(req), prompt: req.prompt };
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
  if (typeof r.regions !== 'boolean') throw badRequest('regions', `regions must be true or false; got ${String(r.regions)}.`);
  if (!isSchedulerName(r.scheduler)) {
    throw badRequest('scheduler', `Unknown scheduler "${r.scheduler}"; choose one of ${Object.keys(SCHEDULERS).join(', ')}.`);
  }
  return { ...r, prompt: r.prompt, scheduler: r.scheduler };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
