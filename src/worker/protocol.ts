// The typed protocol between the page and the engine worker: the message `type` decides the payload
// (discriminated unions, no casts); replies carry the request's id; progress is streamed; pixel buffers
// are transferred, not copied; a cancel names the generation it stops and leaves the models loaded.
import type { SerializedError } from '../core/errors';
import type { GenerateRequest, ImageLimits } from '../core/pipeline/request';
import type { PreviewImage } from '../core/pipeline/preview';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import type { BackendChoice } from '../runtime/capabilities';
import type { LoadedInfo } from './engine';

export type ToWorker =
  /** lowMemory: one network in memory at a time (released between stages, created again each run). */
  | { readonly id: number; readonly type: 'load'; readonly packId: string; readonly backend: BackendChoice; readonly lowMemory?: boolean }
  /** preview 'vae': a full VAE decode every few steps instead of the fast linear preview (slower). */
  | { readonly id: number; readonly type: 'generate'; readonly request: GenerateRequest; readonly preview?: 'fast' | 'vae'; readonly tiledVae?: boolean }
  | { readonly id: number; readonly type: 'cancel'; readonly target: number };

export interface WireProgress {
  readonly step: number;
  readonly totalSteps: number;
  readonly timestep: number;
  readonly elapsedMs: number;
  readonly loopElapsedMs: number;
  /** Every few steps: the scheduler's current estimate of the picture at 1/8 size (its buffer is transferred). */
  readonly preview?: PreviewImage;
}

export type WireResult = Omit<GenerateResult, 'pixels'> & { readonly pixels: Uint8ClampedArray };

export interface LoadedReply extends LoadedInfo {
  readonly limits: ImageLimits;
  /** The UNet's first attention level, for the memory estimate (from the pack's manifest). */
  readonly attention?: { readonly downscale: number; readonly heads: number };
  readonly defaults: { readonly steps: number; readonly guidanceScale: number; readonly scheduler: string; readonly width: number; readonly height: number };
  readonly packName: string;
}

export type FromWorker =
  | { readonly id: number; readonly type: 'loaded'; readonly info: LoadedReply }
  | { readonly id: number; readonly type: 'progress'; readonly progress: WireProgress }
  | { readonly id: number; readonly type: 'result'; readonly result: WireResult }
  | { readonly id: number; readonly type: 'cancelled' }
  | { readonly id: number; readonly type: 'error'; readonly error: SerializedError };
