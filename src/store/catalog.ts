// The models the app knows by name. A catalog entry says what the model is, where its public copies
// live (in words: the app knows no URL and fetches none), what its ONNX exports weigh per precision, and
// what the app should do with it where the export's configs cannot say (SD-Turbo's one step without
// guidance). Sizes and SHA-256s are pinned by the first verified download. `canRun` says, from this
// device's capabilities and before a byte is fetched, whether an export can run here.
import type { Capabilities } from '../runtime/capabilities';
import type { LayoutHints } from './diffusers-layout';

export interface ExportVariant {
  readonly precision: 'fp32' | 'fp16';
  /** The UNet's weights alone (the largest network), and the three networks together. */
  readonly unetBytes: number;
  readonly totalBytes: number;
  /** The largest single weight (the text encoder's token embedding for SD), for the GPU's buffer limit. */
  readonly largestWeightBytes: number;
}

export interface CatalogEntry extends LayoutHints {
  readonly description: string;
  /** Where public copies live, in words (shown, never fetched). */
  readonly whereToFind: string;
  /** The files of that layout, as published. */
  readonly layout: readonly string[];
  readonly variants: readonly ExportVariant[];
}

const SD_LAYOUT = ['model_index.json', 'scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json', 'tokenizer/tokenizer_config.json', 'text_encoder/model.onnx', 'unet/model.onnx',
  'unet/weights.pb (or model.onnx_data)', 'vae_decoder/model.onnx', 'vae_decoder/config.json'];

const GB = 1e9;
// Parameters × bytes per weight: SD 1.5's UNet 859.5 M, CLIP ViT-L/14 text 123 M, VAE decoder 49.5 M
// (token embedding 49,408 × 768); SD 2.x's UNet 865.9 M, OpenCLIP ViT-H text 340 M (49,408 × 1024).
const sd1 = (bytes: number): ExportVariant => ({
  precision: bytes === 4 ? 'fp32' : 'fp16', unetBytes: 859.5e6 * bytes, totalBytes: (859.5e6 + 123e6 + 49.5e6) * bytes, largestWeightBytes: 49_408 * 768 * bytes,
});
const sd2 = (bytes: number): ExportVariant => ({
  precision: bytes === 4 ? 'fp32' : 'fp16', unetBytes: 865.9e6 * bytes, totalBytes: (865.9e6 + 340e6 + 49.5e6) * bytes, largestWeightBytes: 49_408 * 1024 * bytes,
});

export const CATALOG: readonly CatalogEntry[] = [
  {
    id: 'sd-1.5', name: 'Stable Diffusion 1.5',
    description: 'The model of the MWC demo: 512×512, 20 steps, guidance 7.5.',
    whereToFind: 'The original repository (runwayml/stable-diffusion-v1-5) was taken down in 2024. Copies of SD 1.5 and ONNX exports of it are published by others on Hugging Face — search there for "stable-diffusion-v1-5 onnx" and use one you trust — or export one yourself with Hugging Face Optimum on a computer.',
    layout: SD_LAYOUT, variants: [sd1(4), sd1(2)],
    defaults: { steps: 20, guidanceScale: 7.5, scheduler: 'pndm' }, image: { defaultWidth: 512, defaultHeight: 512 },
  },
  {
    id: 'sd-2.1-base', name: 'Stable Diffusion 2.1-base',
    description: 'OpenCLIP text encoder, 512×512.',
    whereToFind: 'An ONNX export of stabilityai/stable-diffusion-2-1-base (Hugging Face): search there for one, or export it with Optimum.',
    layout: SD_LAYOUT, variants: [sd2(4), sd2(2)],
    defaults: { steps: 20, guidanceScale: 7.5, scheduler: 'ddim' }, image: { defaultWidth: 512, defaultHeight: 512 },
  },
  {
    id: 'sd-turbo', name: 'SD-Turbo',
    description: 'SD 2.1 distilled to draw in one step, without guidance, 512×512.',
    whereToFind: 'An ONNX export of stabilityai/sd-turbo (Hugging Face): search there for one, or export it with Optimum.',
    layout: SD_LAYOUT, variants: [sd2(4), sd2(2)],
    defaults: { steps: 1, guidanceScale: 1, scheduler: 'euler' }, image: { defaultWidth: 512, defaultHeight: 512 },
  },
];

/** WASM32's whole address space; the networks, their fp32 weights and the activations must fit in it. */
export const WASM_MEMORY_BYTES = 4 * 2 ** 30;

export interface RunVerdict {
  readonly verdict: 'yes' | 'maybe' | 'no';
  readonly why: string;
}

/** Can an export run on this device? From what the browser reports, before anything is downloaded. */
/** Decimal gigabytes, as model sizes are published (SD 1.5's fp32 UNet: 3.44 GB). */
export const gb = (bytes: number): string => `${(bytes / GB).toFixed(2)} GB`;

/** Stored as int8 on this device (quantize-import.ts): weights a byte each; on WASM the heap holds them once,
 * as stored (README: SD 1.5's int8 UNet takes 1.2 GB of WASM memory after a call, against 3.9 GB in fp16). */
export function canRunInt8(v: ExportVariant, c: Capabilities): RunVerdict & { readonly storedBytes: number } {
  const per = v.precision === 'fp16' ? 2 : 4;
  const storedBytes = v.totalBytes / per;
  const unet = v.unetBytes / per;
  const wasmFits = 1.4 * unet + (storedBytes - unet) * 1.1 < WASM_MEMORY_BYTES * 0.6;
  const gpu = c.webgpu;
  if (gpu && !gpu.software) {
    return { storedBytes, verdict: 'yes', why: `Likely, on WebGPU (${gpu.adapter}) — int8 computes in float32, so it needs no shader-f16 — if the GPU has about ${gb(storedBytes * 2)} free.` };
  }
  return wasmFits
    ? { storedBytes, verdict: 'maybe', why: `On the CPU (WASM), slowly: its UNet takes about ${gb(unet * 1.4)} of WASM's 4 GB${gpu ? ` (this device's WebGPU is a software renderer, ${gpu.adapter})` : ''}.` }
    : { storedBytes, verdict: 'no', why: 'Even as int8 it does not fit in WASM\'s 4 GB, and this device has no hardware WebGPU.' };
}

export function canRun(v: ExportVariant, c: Capabilities): RunVerdict {
  const gpu = c.webgpu;
  // onnxruntime-web's WASM backend computes fp16 in fp32, so either way the UNet is held as fp32 weights,
  // and at least twice: the model's bytes copied into the WASM heap, and the session's initializers.
  const wasmFits = 2 * v.unetBytes * (v.precision === 'fp16' ? 2 : 1) < WASM_MEMORY_BYTES;
  const onWasm = wasmFits
    ? 'it would run on the CPU (WASM), slowly'
    : `the CPU fallback (WASM) cannot hold it: it computes ${v.precision === 'fp16' ? 'fp16 in fp32, so the UNet becomes' : 'with a UNet of'} ${gb(v.unetBytes * (v.precision === 'fp16' ? 2 : 1))}, and WASM has 4 GB in all`;
  if (!gpu) return { verdict: wasmFits ? 'maybe' : 'no', why: `No WebGPU here, and ${onWasm}.` };
  if (gpu.software) return { verdict: wasmFits ? 'maybe' : 'no', why: `This device's WebGPU is a software renderer (${gpu.adapter}), and ${onWasm}.` };
  if (v.precision === 'fp16' && !gpu.shaderF16) return { verdict: wasmFits ? 'maybe' : 'no', why: `This GPU has no shader-f16, so an fp16 export cannot run on it, and ${onWasm}. An fp32 export may run on this GPU.` };
  const limit = Math.min(gpu.maxBufferSize, gpu.maxStorageBufferBindingSize);
  if (v.largestWeightBytes > limit) {
    return { verdict: wasmFits ? 'maybe' : 'no', why: `Its largest weight (${gb(v.largestWeightBytes)}) is larger than this GPU's largest buffer (${gb(limit)}), and ${onWasm}.` };
  }
  return { verdict: 'yes', why: `Likely, on WebGPU (${gpu.adapter}), if the GPU has about ${gb(v.totalBytes * 1.3)} of memory free (the browser does not say how much it has).` };
}
