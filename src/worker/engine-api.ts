// PocketEngine: the one engine interface. `Engine` implements it where the models run (the worker, and
// Node for the command line and the benchmarks); `EngineClient` implements it on the page by proxying
// to the worker (web-llm's MLCEngine / WebWorkerMLCEngine split). Option names and types are the same
// on both sides, and every value here is structured-cloneable, so the page and the worker share them.
import type { GenerateRequest, ImageLimits } from '../core/pipeline/request';
import type { PreviewImage } from '../core/pipeline/preview';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import type { TileOptions } from '../core/pipeline/tiled-vae';
import type { Backend, BackendChoice, Capabilities } from '../runtime/capabilities';
import type { SchedulerName } from '../core/schedulers';

export interface LoadParams {
  /** A pack stored on the device (the worker reads IndexedDB) or, in Node, whatever the engine's opener takes. */
  readonly packId: string;
  readonly backend: BackendChoice;
  /** One network in memory at a time (released between stages, created again each run). */
  readonly lowMemory?: boolean;
}

export interface PackDefaults {
  readonly steps: number;
  readonly guidanceScale: number;
  readonly scheduler: SchedulerName;
  readonly width: number;
  readonly height: number;
}

/** What `load` tells about the model it loaded and where it runs. */
export interface EngineInfo {
  readonly packId: string;
  readonly packName: string;
  readonly backend: Backend;
  readonly capabilities: Capabilities;
  readonly loadMs: number;
  /** Per network: reading its files from the store, and creating its session (the last creation when
   * low-memory mode re-creates it per run). */
  readonly networkLoadMs: Readonly<Record<'text_encoder' | 'unet' | 'vae_decoder', { readonly readMs: number; readonly createMs: number }>>;
  /** Why "auto" ended up on WASM although WebGPU was there, if it did. */
  readonly fallbackReason?: string;
  readonly lowMemory: boolean;
  readonly limits: ImageLimits;
  /** The UNet's first attention level, for the memory estimate. */
  readonly attention?: { readonly downscale: number; readonly heads: number };
  readonly defaults: PackDefaults;
  /** Prompts the pack's manifest says it draws well (none for most real SD exports). */
  readonly examplePrompts?: readonly string[];
  /** Pixels per latent pixel (the VAE's downscale factor: 8 for every SD). */
  readonly downscaleFactor: number;
}

export interface EngineProgress {
  readonly step: number;
  readonly totalSteps: number;
  readonly timestep: number;
  readonly elapsedMs: number;
  /** Since the denoising loop began (what the pace of the steps is measured from). */
  readonly loopElapsedMs: number;
  /** In a two-pass run, which pass the step belongs to. */
  readonly pass?: 'layout' | 'full';
  /** UNet work done and in all, in full-size calls (the pace of the time left). */
  readonly workDone: number;
  readonly workTotal: number;
  /** Every few steps: the current estimate of the picture (fast: one pixel per latent pixel; vae: full size). */
  readonly preview?: PreviewImage;
}

export interface EngineGenerateOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: EngineProgress) => void;
  /** 'fast' (default): a linear latent→RGB map every 2 steps; 'vae': a full VAE decode every 5 (slower). */
  readonly preview?: 'fast' | 'vae';
  /** Decode the VAE in overlapping tiles (less memory for large images; see tiled-vae.ts). */
  readonly vaeTiles?: TileOptions;
}

export interface PocketEngine {
  /** Load a pack (or keep the one loaded when nothing changed); a signal cancels a load half-way. */
  load(params: LoadParams, options?: { readonly signal?: AbortSignal }): Promise<EngineInfo>;
  /** One picture; cancelled between denoising steps by the signal, the models staying loaded. */
  generate(request: GenerateRequest, options?: EngineGenerateOptions): Promise<GenerateResult>;
  /** Release the loaded sessions. */
  dispose(): Promise<void>;
}
