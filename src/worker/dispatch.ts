// The worker side of the protocol, apart from the worker itself (so that it can be tested in Node): each
// message is one PocketEngine call, answered by a reply that names it. Calls run one after another on
// one set of sessions; a cancel aborts the call it names, running or waiting.
import { PocketError } from '../core/errors';
import type { PocketEngine } from './engine-api';
import type { FromWorker, ToWorker } from './protocol';

export type Post = (msg: FromWorker, transfer?: ArrayBufferLike[]) => void;

export function createDispatcher(engine: PocketEngine, post: Post): (msg: ToWorker) => void {
  const running = new Map<number, AbortController>();
  let queue: Promise<unknown> = Promise.resolve();

  const serialised = (id: number, call: (signal: AbortSignal) => Promise<void>) => {
    const ac = new AbortController();
    running.set(id, ac);
    queue = queue.then(async () => {
      try {
        await call(ac.signal);
      } catch (err) {
        const e = PocketError.from(err);
        if (e.code === 'aborted') post({ id, type: 'cancelled' });
        else post({ id, type: 'error', error: e.toJSON() });
      } finally {
        running.delete(id);
      }
    });
  };

  return (msg) => {
    switch (msg.type) {
      case 'cancel':
        running.get(msg.target)?.abort();
        return;
      case 'load':
        return serialised(msg.id, async (signal) => {
          post({ id: msg.id, type: 'reply', call: 'load', value: await engine.load(msg.params, { signal }) });
        });
      case 'generate':
        return serialised(msg.id, async (signal) => {
          const result = await engine.generate(msg.request, {
            signal,
            ...(msg.preview ? { preview: msg.preview } : {}),
            ...(msg.vaeTiles ? { vaeTiles: msg.vaeTiles } : {}),
            onProgress: (progress) => post({ id: msg.id, type: 'progress', progress }, progress.preview ? [progress.preview.pixels.buffer] : []),
          });
          post({ id: msg.id, type: 'reply', call: 'generate', value: result }, [result.pixels.buffer]);
        });
      case 'dispose':
        return serialised(msg.id, async () => {
          await engine.dispose();
          post({ id: msg.id, type: 'reply', call: 'dispose', value: null });
        });
    }
  };
}
