// A model pack's manifest.json: every file with its size and SHA-256, the tokenizer's special ids, the
// scheduler config, the VAE scaling factor and the image limits. The built-in pack is written by
// training/shapes/export.py; a real SD 1.5 ONNX export is described by the same fields.
import { PocketError } from '../core/errors';
import type { ImageLimits } from '../core/pipeline/request';
import { isSchedulerName, SCHEDULERS, type SchedulerConfig, type SchedulerName } from '../core/schedulers';
import { LIMITS } from '../core/pipeline/request';
import { ClipTokenizer, type TokenizerConfig } from '../core/tokenizer/clip-tokenizer';

export type FileRole = 'text_encoder' | 'unet' | 'vae_decoder' | 'tokenizer_vocab' | 'tokenizer_merges' | 'scheduler_config' | 'external_data';

export interface PackFile {
  readonly path: string;
  readonly role: FileRole;
  readonly size: number;
  readonly sha256: string;
  /** For an external_data file: the network whose weights it holds (a model over 2 GB keeps them outside the .onnx). */
  readonly for?: 'text_encoder' | 'unet' | 'vae_decoder';
}

export interface PackManifest {
  readonly format: 'pocket-diffusion-pack';
  readonly formatVersion: 1;
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  /** Prompts the model draws well, offered under Generate to a person who does not yet know what it
   *  can draw (a small model knows a small world: its shapes, colours and wordings). */
  readonly examplePrompts?: readonly string[];
  /** 'stable-diffusion-1' for SD 1.x-layout UNets (the stand-in and real SD 1.5). */
  readonly architecture?: string;
  readonly files: readonly PackFile[];
  readonly tokenizer: TokenizerConfig;
  readonly vae: {
    readonly scalingFactor: number;
    readonly latentChannels: number;
    readonly downscaleFactor: number;
    /** A linear latent→RGB map ([channels][3] and [3]) for the live preview; optional. */
    readonly latentRgbFactors?: readonly (readonly number[])[];
    readonly latentRgbBias?: readonly number[];
  };
  readonly scheduler: SchedulerConfig;
  /** The UNet's first attention level (a downscale of the latents) and its heads, for memory estimates. */
  readonly unet?: { readonly attention?: { readonly downscale: number; readonly heads: number } };
  readonly image: {
    readonly defaultWidth: number; readonly defaultHeight: number; readonly minSize: number; readonly maxSize: number; readonly multipleOf: number;
    /** The sizes the weights were trained at ("256x256"), where a pack knows them: others may draw worse. */
    readonly trainedSizes?: readonly string[];
    /** The size the weights compose pictures at ("256x256"): larger ones are drawn in two passes from a layout there. */
    readonly layoutSize?: string;
    /** Draw prompts that name two or three objects with regional prompts by default (each object's caption in
     *  its own part of the picture: src/core/pipeline/regions.ts). */
    readonly regions?: boolean;
  };
  readonly defaults: { readonly steps: number; readonly guidanceScale: number; readonly scheduler: SchedulerName; readonly negativePrompt: string };
  readonly totalBytes: number;
}

const MAX_EXAMPLES = 8;

const REQUIRED_ROLES: readonly FileRole[] = ['text_encoder', 'unet', 'vae_decoder', 'tokenizer_vocab', 'tokenizer_merges'];

/** Check a parsed manifest's shape; a wrong one gets a message naming what is missing. */
export function parseManifest(json: unknown): PackManifest {
  const m = json as Partial<PackManifest> | null;
  const fail = (why: string) => new PocketError('model-incompatible', `This model pack's manifest is not usable: ${why}.`);
  if (!m || typeof m !== 'object') throw fail('it is not a JSON object');
  if (m.format !== 'pocket-diffusion-pack' || m.formatVersion !== 1) throw fail(`format ${String(m.format)} v${String(m.formatVersion)} is not pocket-diffusion-pack v1`);
  if (typeof m.id !== 'string' || !m.id) throw fail('it has no id');
  if (!Array.isArray(m.files)) throw fail('it lists no files');
  for (const f of m.files) {
    if (typeof f.path !== 'string' || f.path.includes('..') || f.path.startsWith('/')) throw fail(`the file path ${String(f.path)} is not relative to the pack`);
    if (!Number.isInteger(f.size) || f.size < 0) throw fail(`${f.path} has no size`);
    if (!/^[0-9a-f]{64}$/.test(f.sha256)) throw fail(`${f.path} has no SHA-256`);
  }
  for (const role of REQUIRED_ROLES) if (!m.files.some((f) => f.role === role)) throw fail(`it has no ${role} file`);
  if (!m.tokenizer || !Number.isInteger(m.tokenizer.maxLength)) throw fail('it has no tokenizer settings');
  if (!m.vae || !(m.vae.scalingFactor > 0)) throw fail('it has no VAE scaling factor');
  const whole = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
  if (!whole(m.vae.latentChannels) || !whole(m.vae.downscaleFactor)) throw fail('its VAE has no latent channel count or downscale factor');
  if (!m.scheduler || !(m.scheduler.num_train_timesteps > 0)) throw fail('it has no scheduler config');
  const img = m.image;
  if (!img || typeof img !== 'object') throw fail('it has no image limits');
  for (const k of ['defaultWidth', 'defaultHeight', 'minSize', 'maxSize', 'multipleOf'] as const) {
    if (!whole(img[k])) throw fail(`its image.${k} is not a positive whole number`);
  }
  if (img.minSize > img.maxSize) throw fail(`its image.minSize (${img.minSize}) is above its image.maxSize (${img.maxSize})`);
  for (const k of ['defaultWidth', 'defaultHeight'] as const) {
    if (img[k] < img.minSize || img[k] > img.maxSize || img[k] % img.multipleOf !== 0) {
      throw fail(`its image.${k} (${img[k]}) is not a size it allows (${img.minSize}–${img.maxSize}, multiples of ${img.multipleOf})`);
    }
  }
  if (img.trainedSizes !== undefined && !(Array.isArray(img.trainedSizes) && img.trainedSizes.every((t) => typeof t === 'string' && /^\d+x\d+$/.test(t)))) {
    throw fail('its image.trainedSizes is not a list of sizes such as "256x256"');
  }
  if (img.layoutSize !== undefined) {
    const lay = typeof img.layoutSize === 'string' && /^(\d+)x(\d+)$/.exec(img.layoutSize);
    if (!lay || !whole(Number(lay[1])) || !whole(Number(lay[2])) || Number(lay[1]) % img.multipleOf || Number(lay[2]) % img.multipleOf) {
      throw fail(`its image.layoutSize (${String(img.layoutSize)}) is not a size such as "256x256" in multiples of ${img.multipleOf}`);
    }
  }
  if (img.regions !== undefined && typeof img.regions !== 'boolean') throw fail(`its image.regions (${String(img.regions)}) is not true or false`);
  const ex = m.examplePrompts;
  if (ex !== undefined && !(Array.isArray(ex) && ex.length <= MAX_EXAMPLES && ex.every((p) => typeof p === 'string' && p.trim() && p.length <= 200))) {
    throw fail(`its examplePrompts is not a list of at most ${MAX_EXAMPLES} prompts (each 1–200 characters)`);
  }
  const d = m.defaults;
  if (!d || typeof d !== 'object') throw fail('it has no defaults');
  if (!Number.isInteger(d.steps) || d.steps < LIMITS.minSteps || d.steps > LIMITS.maxSteps) throw fail(`its default steps (${String(d.steps)}) are not ${LIMITS.minSteps}–${LIMITS.maxSteps}`);
  if (typeof d.guidanceScale !== 'number' || !(d.guidanceScale >= 1 && d.guidanceScale <= LIMITS.maxGuidance)) {
    throw fail(`its default guidance (${String(d.guidanceScale)}) is not 1–${LIMITS.maxGuidance}`);
  }
  if (typeof d.scheduler !== 'string' || !isSchedulerName(d.scheduler)) {
    throw fail(`its default scheduler "${String(d.scheduler)}" is not one of ${Object.keys(SCHEDULERS).join(', ')}`);
  }
  if (d.negativePrompt !== undefined && typeof d.negativePrompt !== 'string') throw fail('its default negative prompt is not text');
  return { ...m, name: typeof m.name === 'string' && m.name ? m.name : m.id, defaults: { ...d, negativePrompt: d.negativePrompt ?? '' } } as PackManifest;
}

export function fileFor(manifest: PackManifest, role: FileRole): PackFile {
  const f = manifest.files.find((x) => x.role === role);
  if (!f) throw new PocketError('model-incompatible', `This model pack has no ${role} file.`);
  return f;
}

/** A network's external-data files, named as the .onnx file refers to them (its base name). */
export function externalDataFor(manifest: PackManifest, role: FileRole): { readonly file: PackFile; readonly name: string }[] {
  return manifest.files.filter((f) => f.role === 'external_data' && f.for === role).map((file) => ({ file, name: file.path.split('/').pop()! }));
}

export function imageLimits(manifest: PackManifest): ImageLimits {
  const { minSize, maxSize, multipleOf, trainedSizes, layoutSize, regions } = manifest.image;
  return {
    minSize, maxSize, multipleOf, downscaleFactor: manifest.vae.downscaleFactor, ...(trainedSizes ? { trained: trainedSizes } : {}),
    ...(layoutSize ? { layout: layoutSize.split('x').map(Number) as [number, number] } : {}),
    ...(regions !== undefined ? { regions } : {}),
  };
}

/** A pack's own settings and default size: the engine's, and the page's as soon as the manifest is read. */
export function packDefaults(manifest: PackManifest) {
  return { ...manifest.defaults, width: manifest.image.defaultWidth, height: manifest.image.defaultHeight };
}

/** A pack's tokenizer, read with `read` (fetch, IndexedDB or the file system): the engine's, and the page's own
 *  copy that counts a prompt's tokens as it is typed. */
export async function packTokenizer(manifest: PackManifest, read: (path: string) => Promise<Uint8Array>): Promise<ClipTokenizer> {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  const [vocab, merges] = await Promise.all([read(fileFor(manifest, 'tokenizer_vocab').path), read(fileFor(manifest, 'tokenizer_merges').path)]);
  return new ClipTokenizer(JSON.parse(text(vocab)), text(merges), manifest.tokenizer);
}
