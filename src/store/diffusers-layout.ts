// A pack described by the folder layout Stable Diffusion ONNX exports are published in (diffusers'
// script, optimum, the "onnx" branches of SD repositories): text_encoder/model.onnx, unet/model.onnx
// (+ its external weights), vae_decoder/model.onnx, tokenizer/{vocab.json, merges.txt,
// special_tokens_map.json, tokenizer_config.json}, scheduler/scheduler_config.json and the networks'
// config.json files. From those it writes the app's manifest, so a folder on disk or a repository URL
// is installed exactly like a pack that ships one. Sizes and SHA-256s the layout cannot know are
// pinned when the files are first stored (see local-import.ts and catalog.ts).
import { DEFAULT_DOWNSCALE } from '../core/pipeline/request';
import { PocketError } from '../core/errors';
import type { SchedulerConfig, SchedulerName } from '../core/schedulers';
import type { FileRole, PackFile, PackManifest } from './manifest';

/** What a layout is read through: a folder of local files, or a server with the repository's files. */
export interface LayoutReader {
  /** The size of a file, or undefined when it is not there. */
  size(path: string): Promise<number | undefined>;
  /** A small file's text (configs, the vocabulary), or undefined when it is not there. */
  text(path: string): Promise<string | undefined>;
  /** Every file path, where the source can list them (a local folder can, a web server cannot). */
  list?(): readonly string[];
}

/** What a built-in catalog entry knows better than the layout does (Turbo's one step, no guidance). */
export interface LayoutHints {
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly defaults?: Partial<PackManifest['defaults']>;
  readonly image?: Partial<PackManifest['image']>;
}

const NETWORKS = ['text_encoder', 'unet', 'vae_decoder'] as const;
/** External-data file names the exporters write, tried where the source cannot list its files. */
export const EXTERNAL_DATA_NAMES = ['weights.pb', 'model.onnx_data', 'model.onnx.data'] as const;

/** diffusers' scheduler classes → the app's samplers. */
const SCHEDULER_CLASSES: Readonly<Record<string, SchedulerName>> = {
  PNDMScheduler: 'pndm', DDIMScheduler: 'ddim', EulerDiscreteScheduler: 'euler', EulerAncestralDiscreteScheduler: 'euler-ancestral',
  DPMSolverMultistepScheduler: 'dpmpp-2m', LCMScheduler: 'lcm',
};
const SCHEDULER_KEYS: readonly (keyof SchedulerConfig)[] = ['num_train_timesteps', 'beta_start', 'beta_end', 'beta_schedule', 'prediction_type',
  'timestep_spacing', 'steps_offset', 'set_alpha_to_one', 'use_karras_sigmas', 'solver_order', 'lower_order_final', 'final_sigmas_type',
  'original_inference_steps', 'timestep_scaling'];

function incompatible(why: string): PocketError {
  return new PocketError('model-incompatible', `This folder is not a Stable Diffusion ONNX export the app can read: ${why}.`);
}

async function json<T>(reader: LayoutReader, path: string): Promise<T | undefined> {
  const t = await reader.text(path);
  if (t === undefined) return undefined;
  try {
    return JSON.parse(t) as T;
  } catch {
    throw incompatible(`${path} is not valid JSON`);
  }
}

/** The pack's manifest from its layout; files whose hash is not known yet carry an empty sha256. */
export async function manifestFromLayout(reader: LayoutReader, hints: LayoutHints, known: Readonly<Record<string, string>> = {}): Promise<PackManifest> {
  const files: PackFile[] = [];
  const add = async (path: string, role: FileRole, extra: Partial<PackFile> = {}) => {
    const size = await reader.size(path);
    if (size === undefined) return false;
    files.push({ path, role, size, sha256: known[path] ?? '', ...extra });
    return true;
  };
  const missing: string[] = [];
  for (const net of NETWORKS) if (!(await add(`${net}/model.onnx`, net))) missing.push(`${net}/model.onnx`);
  for (const [p, role] of [['tokenizer/vocab.json', 'tokenizer_vocab'], ['tokenizer/merges.txt', 'tokenizer_merges']] as const) {
    if (!(await add(p, role))) missing.push(p);
  }
  if (!(await add('scheduler/scheduler_config.json', 'scheduler_config'))) missing.push('scheduler/scheduler_config.json');
  if (missing.length) throw incompatible(`it has no ${missing.join(', ')}`);
  // A network over 2 GB (SD's fp32 UNet) keeps its weights beside the .onnx file.
  const listed = reader.list?.();
  for (const net of NETWORKS) {
    const candidates = listed
      ? listed.filter((p) => p.startsWith(`${net}/`) && !/\/(model\.onnx|config\.json)$/.test(p) && p.split('/').length === 2)
      : EXTERNAL_DATA_NAMES.map((n) => `${net}/${n}`);
    for (const p of candidates) await add(p, 'external_data', { for: net });
  }

  const vocab = await json<Record<string, number>>(reader, 'tokenizer/vocab.json');
  if (!vocab) throw incompatible('tokenizer/vocab.json cannot be read');
  const special = (await json<Record<string, string | { content: string }>>(reader, 'tokenizer/special_tokens_map.json')) ?? {};
  const tokConfig = (await json<{ model_max_length?: number }>(reader, 'tokenizer/tokenizer_config.json')) ?? {};
  const token = (key: string, fallback: string): number => {
    const v = special[key];
    const name = typeof v === 'string' ? v : v?.content ?? fallback;
    const id = vocab[name];
    if (id === undefined) throw incompatible(`the tokenizer's ${key} "${name}" is not in its vocabulary`);
    return id;
  };
  const maxLength = tokConfig.model_max_length && tokConfig.model_max_length <= 1024 ? tokConfig.model_max_length : 77;

  const rawScheduler = (await json<Record<string, unknown>>(reader, 'scheduler/scheduler_config.json'))!;
  const scheduler = Object.fromEntries(SCHEDULER_KEYS.filter((k) => rawScheduler[k] !== undefined && rawScheduler[k] !== null).map((k) => [k, rawScheduler[k]])) as unknown as SchedulerConfig;
  if (!(scheduler.num_train_timesteps > 0) || typeof scheduler.beta_start !== 'number') throw incompatible('scheduler/scheduler_config.json has no training schedule');
  const vaeConfig = (await json<{ scaling_factor?: number; latent_channels?: number; block_out_channels?: unknown[] }>(reader, 'vae_decoder/config.json')) ?? {};
  const unetConfig = (await json<{ sample_size?: number; cross_attention_dim?: number }>(reader, 'unet/config.json')) ?? {};
  // diffusers' vae_scale_factor: 2 ** (len(block_out_channels) - 1) — 8 for every SD's KL-f8.
  const blocks = Array.isArray(vaeConfig.block_out_channels) ? vaeConfig.block_out_channels.length : 0;
  const downscaleFactor = blocks > 0 ? 2 ** (blocks - 1) : DEFAULT_DOWNSCALE;
  const native = (unetConfig.sample_size ?? 64) * downscaleFactor;
  const className = String(rawScheduler['_class_name'] ?? '');

  return {
    format: 'pocket-diffusion-pack', formatVersion: 1,
    id: hints.id, name: hints.name,
    ...(hints.description ? { description: hints.description } : {}),
    architecture: unetConfig.cross_attention_dim === 1024 ? 'stable-diffusion-2' : 'stable-diffusion-1',
    files,
    tokenizer: { maxLength, bosTokenId: token('bos_token', '<|startoftext|>'), eosTokenId: token('eos_token', '<|endoftext|>'), padTokenId: token('pad_token', '<|endoftext|>') },
    vae: { scalingFactor: vaeConfig.scaling_factor ?? 0.18215, latentChannels: vaeConfig.latent_channels ?? 4, downscaleFactor },
    scheduler,
    image: { defaultWidth: native, defaultHeight: native, minSize: 256, maxSize: Math.max(native, 1024), multipleOf: downscaleFactor, ...hints.image },
    defaults: { steps: 20, guidanceScale: 7.5, scheduler: SCHEDULER_CLASSES[className] ?? 'pndm', negativePrompt: '', ...hints.defaults },
    totalBytes: files.reduce((a, f) => a + f.size, 0),
  };
}

/** A file-system-like reader over files picked or dropped by the user (paths relative to the pack). */
export function blobLayoutReader(files: ReadonlyMap<string, Blob>): LayoutReader {
  return {
    size: async (p) => files.get(p)?.size,
    text: async (p) => files.get(p)?.text(),
    list: () => [...files.keys()],
  };
}

/** A short id from a name: lower case, letters, digits and dashes. */
export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 48) || 'pack';
}
