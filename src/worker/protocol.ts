// The typed protocol between the page (EngineClient) and the engine worker (Engine): each PocketEngine
// call is a message whose `type` names the call; its reply names the same call, and `Replies` maps a
// call to its reply's type, so the client resolves each call with the right type and no run-time check.
// Progress streams; pixel buffers are transferred, not copied; a cancel names the call it stops (a
// generation stops between steps with the models loaded; a load stops between networks).
import type { SerializedError } from '../core/errors';
import type { GenerateRequest } from '../core/pipeline/request';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import type { TileOptions } from '../core/pipeline/tiled-vae';
import type { EngineInfo, EngineProgress, LoadParams } from './engine-api';

/** Each call's arguments (what crosses to the worker). */
export interface Calls {
  readonly load: { readonly params: LoadParams };
  readonly generate: { readonly request: GenerateRequest; readonly preview?: 'fast' | 'vae'; readonly vaeTiles?: TileOptions };
  readonly dispose: Record<never, never>;
}

/** Each call's reply value. */
export interface Replies {
  readonly load: EngineInfo;
  readonly generate: GenerateResult;
  readonly dispose: null;
}

export type CallName = keyof Calls;

export type ToWorker =
  | { readonly [K in CallName]: { readonly id: number; readonly type: K } & Calls[K] }[CallName]
  | { readonly id: number; readonly type: 'cancel'; readonly target: number };

export type Reply = { readonly [K in CallName]: { readonly id: number; readonly type: 'reply'; readonly call: K; readonly value: Replies[K] } }[CallName];

export type FromWorker =
  | Reply
  | { readonly id: number; readonly type: 'progress'; readonly progress: EngineProgress }
  | { readonly id: number; readonly type: 'cancelled' }
  | { readonly id: number; readonly type: 'error'; readonly error: SerializedError };
