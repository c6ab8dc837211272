// The comparison view: the same prompt and seed across several step counts or sizes, run one after
// another on the loaded engine, shown side by side with their timings; each picture can be downloaded
// or kept in the History.
import { PocketError } from '../core/errors';
import type { GenerateRequest } from '../core/pipeline/request';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import type { PocketEngine } from '../worker/engine-api';
import { drawPixels } from './dom';

export interface CompareOptions {
  readonly signal: AbortSignal;
  readonly onStart: (i: number) => void;
  /** Also run for every picture (the cost model learns from it). */
  readonly onResult?: (r: GenerateResult) => void;
  /** "Keep in History" for one picture. */
  readonly onKeep: (r: GenerateResult, png: Blob) => Promise<void>;
}

/** The pictures' object URLs of the last comparison, revoked when the grid is filled again. */
const urls: string[] = [];

export async function runComparison(engine: PocketEngine, requests: readonly GenerateRequest[], grid: HTMLElement, options: CompareOptions): Promise<void> {
  for (const u of urls.splice(0)) URL.revokeObjectURL(u);
  grid.replaceChildren();
  for (const [i, request] of requests.entries()) {
    if (options.signal.aborted) throw new PocketError('aborted', 'Comparison cancelled.');
    options.onStart(i);
    const r = await engine.generate(request, { signal: options.signal });
    options.onResult?.(r);
    grid.append(figure(r, options.onKeep));
  }
}

const steps = (n: number) => `${n} step${n === 1 ? '' : 's'}`;

function figure(r: GenerateResult, onKeep: CompareOptions['onKeep']): HTMLElement {
  const fig = document.createElement('figure');
  const canvas = document.createElement('canvas');
  drawPixels(canvas, r);
  const q = r.request;
  const what = `${steps(q.steps)}, ${q.width}×${q.height}${r.layout ? ` (two passes, from ${r.layout.width}×${r.layout.height})` : ''}`;
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', what);
  const caption = Object.assign(document.createElement('figcaption'), {
    textContent: `${steps(q.steps)} · ${q.width}×${q.height}${r.layout ? ` (two passes, from ${r.layout.width}×${r.layout.height})` : ''} · ${(r.timings.totalMs / 1000).toFixed(2)} s`,
  });
  const save = Object.assign(document.createElement('a'), { textContent: 'Download', download: `pocket-diffusion-${q.seed}-${q.steps}steps-${q.width}.png`, href: '#' });
  save.setAttribute('aria-label', `Download the picture of ${what}`);
  const keep = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Keep in History' });
  keep.setAttribute('aria-label', `Keep the picture of ${what} in History`);
  keep.disabled = true;
  canvas.toBlob((png) => {
    if (!png) return;
    save.href = URL.createObjectURL(png);
    urls.push(save.href);
    keep.disabled = false;
    keep.addEventListener('click', async () => {
      keep.disabled = true;
      try {
        await onKeep(r, png);
        keep.textContent = 'Kept in History';
      } catch (e) {
        keep.disabled = false;
        keep.textContent = 'Not kept (storage failed): try again';
        console.warn(e);
      }
    });
  }, 'image/png');
  const actions = Object.assign(document.createElement('div'), { className: 'compare-actions' });
  actions.append(save, keep);
  fig.append(canvas, caption, actions);
  return fig;
}
