// The comparison view: the same prompt and seed across several step counts or sizes, run one after
// another on the loaded engine, shown side by side with their timings.
import { PocketError } from '../core/errors';
import type { GenerateRequest } from '../core/pipeline/request';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import type { PocketEngine } from '../worker/engine-api';
import { drawPixels } from './dom';

export async function runComparison(engine: PocketEngine, requests: readonly GenerateRequest[], grid: HTMLElement, options: { signal: AbortSignal; onStart: (i: number) => void }): Promise<void> {
  grid.replaceChildren();
  for (const [i, request] of requests.entries()) {
    if (options.signal.aborted) throw new PocketError('aborted', 'Comparison cancelled.');
    options.onStart(i);
    const r = await engine.generate(request, { signal: options.signal });
    grid.append(figure(r));
  }
}

function figure(r: GenerateResult): HTMLElement {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  drawPixels(canvas, r);
  const q = r.request;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', `${q.steps} steps, ${q.width}×${q.height}`);
  const caption = Object.assign(document.createElement('figcaption'), {
    textContent: `${q.steps} steps · ${q.width}×${q.height} · ${(r.timings.totalMs / 1000).toFixed(2)} s`,
  });
  fig.append(canvas, caption);
  return fig;
}
