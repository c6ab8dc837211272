// The page ↔ worker boundary in Node: EngineClient (the page's PocketEngine) talking to the worker's
// dispatcher over a fake Worker that clones messages and delivers them on later turns, as postMessage
// does. The engine behind it is a fake PocketEngine whose calls the test controls.
import { describe, expect, it } from 'vitest';
import { aborted, PocketError } from '../../src/core/errors';
import type { GenerateRequest } from '../../src/core/pipeline/request';
import type { GenerateResult } from '../../src/core/pipeline/text-to-image';
import { createDispatcher } from '../../src/worker/dispatch';
import type { EngineGenerateOptions, EngineInfo, LoadParams, PocketEngine } from '../../src/worker/engine-api';
import { EngineClient, type WorkerLike } from '../../src/worker/engine-client';
import type { ToWorker } from '../../src/worker/protocol';

const later = () => new Promise<void>((r) => setTimeout(r, 0));

class FakeEngine implements PocketEngine {
  readonly loads: { params: LoadParams; abortedAtStart: boolean }[] = [];
  gate: Promise<void> = Promise.resolve();
  async load(params: LoadParams, options: { signal?: AbortSignal } = {}): Promise<EngineInfo> {
    this.loads.push({ params, abortedAtStart: options.signal?.aborted === true });
    if (options.signal?.aborted) throw aborted();
    await this.gate;
    return { packId: params.packId, packName: `pack ${params.packId}` } as unknown as EngineInfo;
  }
  async generate(request: GenerateRequest, options: EngineGenerateOptions = {}): Promise<GenerateResult> {
    if (request.prompt === 'bad') throw new PocketError('bad-request', 'Steps must be a whole number.', { field: 'steps' });
    for (let step = 1; step <= 3; step++) {
      await later();
      if (options.signal?.aborted) throw aborted();
      options.onProgress?.({ step, totalSteps: 3, timestep: 999 - step, elapsedMs: step, loopElapsedMs: step, workDone: step, workTotal: 3 });
    }
    return { pixels: new Uint8ClampedArray(16).fill(request.prompt.length), width: 2, height: 2 } as unknown as GenerateResult;
  }
  async dispose(): Promise<void> {}
}

/** A worker in the same process: each message is structured-cloned and handled on a later turn. */
function fakeWorker(engine: PocketEngine, started: WorkerLike[]): () => WorkerLike {
  return () => {
    const w: WorkerLike = {
      onmessage: null, onerror: null, onmessageerror: null,
      postMessage: (msg: ToWorker) => { const copy = structuredClone(msg); setTimeout(() => dispatch(copy), 0); },
      terminate: () => undefined,
    };
    const dispatch = createDispatcher(engine, (msg) => { const copy = structuredClone(msg); setTimeout(() => w.onmessage?.({ data: copy }), 0); });
    started.push(w);
    return w;
  };
}

describe('EngineClient ↔ the worker\'s dispatcher', () => {
  it('each reply resolves its own call, with progress to the right generation', async () => {
    const engine = new FakeEngine();
    const client = new EngineClient(fakeWorker(engine, []));
    const steps: number[] = [];
    const [info, a, b] = await Promise.all([
      client.load({ packId: 'p', backend: 'wasm' }),
      client.generate({ prompt: 'one' }, { onProgress: (p) => steps.push(p.step) }),
      client.generate({ prompt: 'three' }),
    ]);
    expect(info.packName).toBe('pack p');
    expect([a.pixels[0], b.pixels[0]]).toEqual([3, 5]);
    expect(steps).toEqual([1, 2, 3]);
  });

  it('an error keeps its code, message and field across the boundary', async () => {
    const client = new EngineClient(fakeWorker(new FakeEngine(), []));
    const err = await client.generate({ prompt: 'bad' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PocketError);
    expect(err).toMatchObject({ code: 'bad-request', message: 'Steps must be a whole number.', detail: { field: 'steps' } });
  });

  it('a load cancelled while it waits behind another never runs, and the first still loads', async () => {
    const engine = new FakeEngine();
    let open!: () => void;
    engine.gate = new Promise((r) => { open = r; });
    const client = new EngineClient(fakeWorker(engine, []));
    const first = client.load({ packId: 'a', backend: 'wasm' });
    const ac = new AbortController();
    const second = client.load({ packId: 'b', backend: 'wasm' }, { signal: ac.signal });
    await later();
    ac.abort();
    await later();
    open();
    expect((await first).packId).toBe('a');
    expect(await second.catch((e: PocketError) => e.code)).toBe('aborted');
    expect(engine.loads.map((l) => [l.params.packId, l.abortedAtStart])).toEqual([['a', false], ['b', true]]);
  });

  it('cancels a generation between steps', async () => {
    const client = new EngineClient(fakeWorker(new FakeEngine(), []));
    const ac = new AbortController();
    const run = client.generate({ prompt: 'x' }, { signal: ac.signal, onProgress: () => ac.abort() });
    expect(await run.catch((e: PocketError) => e.code)).toBe('aborted');
  });

  it('a worker that fails rejects what was in flight, and the next call starts a new worker', async () => {
    const started: WorkerLike[] = [];
    const engine = new FakeEngine();
    engine.gate = new Promise(() => undefined); // never loads
    const client = new EngineClient(fakeWorker(engine, started));
    const pending = client.load({ packId: 'a', backend: 'wasm' });
    await later();
    started[0]!.onerror?.({ message: 'out of memory' });
    expect(await pending.catch((e: PocketError) => e.message)).toMatch(/The engine stopped: out of memory/);
    engine.gate = Promise.resolve();
    expect((await client.load({ packId: 'b', backend: 'wasm' })).packId).toBe('b');
    expect(started).toHaveLength(2);
  });
});
