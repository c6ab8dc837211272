// The result view: the picture, its settings, the verdict against the 15 s goal (Qualcomm's phone demo), per-stage
// timings and the download; announced when it is ready, scrolled into view where it is below the fold,
// and kept across reloads (the last picture, in IndexedDB).
import { createStore, get, set, type UseStore } from 'idb-keyval';
import { describeVerdict, estimateMs, HEADLINE, type CostModel } from '../core/estimate';
import type { GenerateResult, Timings } from '../core/pipeline/text-to-image';
import { SCHEDULERS } from '../core/schedulers';
import { $, drawPixels } from './dom';

/** A prompt in a caption: the first words, not a 500-word paste. */
export function shortPrompt(prompt: string, max = 120): string {
  const p = prompt.trim().replace(/\s+/g, ' ');
  return p.length <= max ? p : `${p.slice(0, max - 1).trimEnd()}…`;
}

interface LastPicture {
  readonly png: Blob;
  readonly caption: string;
  readonly verdict: string;
}

export class ResultView {
  private readonly el = {
    output: $<HTMLElement>('output'),
    placeholder: $<HTMLParagraphElement>('placeholder'),
    canvas: $<HTMLCanvasElement>('image'),
    settings: $<HTMLParagraphElement>('settings'),
    timings: $<HTMLTableElement>('timings'),
    timingsBox: $<HTMLDetailsElement>('timings-box'),
    verdict: $<HTMLParagraphElement>('verdict'),
    download: $<HTMLAnchorElement>('download'),
  };
  private store: UseStore | undefined;

  constructor() {
    // A phone keeps the stages folded, so that the picture's Download follows its verdict.
    this.el.timingsBox.open = window.matchMedia('(min-width: 761px)').matches;
  }

  get canvas(): HTMLCanvasElement {
    return this.el.canvas;
  }

  /** A run is under way: the picture on show is the last one (dimmed by styles.css), the region busy. */
  busy(on: boolean): void {
    if (on) this.el.output.setAttribute('aria-busy', 'true');
    else this.el.output.removeAttribute('aria-busy');
  }

  private db(): UseStore {
    this.store ??= createStore('pocket-diffusion-ui', 'kv');
    return this.store;
  }

  /** The picture of the last visit, as it was left. */
  async restore(): Promise<void> {
    const last = await get<LastPicture>('last-picture', this.db()).catch(() => undefined);
    if (!last || this.el.output.dataset.generation) return;
    const img = await createImageBitmap(last.png).catch(() => undefined);
    // A run that finished meanwhile wins.
    if (!img || this.el.output.dataset.generation) return;
    const c = this.el.canvas;
    c.width = img.width;
    c.height = img.height;
    c.getContext('2d')!.drawImage(img, 0, 0);
    this.el.settings.textContent = last.caption;
    this.el.verdict.textContent = last.verdict;
    this.setDownload(last.png, 'pocket-diffusion.png');
    this.showPicture();
    this.el.output.dataset.restored = 'yes';
  }

  show(r: GenerateResult, context: { backend: string; costs: CostModel | undefined; downscaleFactor: number }): void {
    drawPixels(this.el.canvas, r);
    const q = r.request;
    const lay = r.layout;
    const size = lay ? `${q.width}×${q.height} (two passes, from ${lay.width}×${lay.height})` : `${q.width}×${q.height}`;
    // where the objects were drawn apart (regional prompts): where each went
    const apart = r.regions ? ` · drawn apart: ${r.regions.map((g) => `${g.object} ${placeWord(g.point)}`).join(', ')}` : '';
    this.el.settings.textContent = `“${shortPrompt(q.prompt)}”${apart} · ${size} · ${q.steps} step${q.steps === 1 ? '' : 's'} · ${SCHEDULERS[q.scheduler].label} · guidance ${q.guidanceScale} · seed ${q.seed} · ${context.backend}`;
    const t = r.timings;
    const unet = t.unetMs.reduce((a, b) => a + b, 0);
    this.el.timingsBox.hidden = false;
    this.el.timings.replaceChildren(...timingRows(t, unet, r.layout && { ...r.layout, full: `${q.width}×${q.height}` }).map(([k, v]) => {
      const tr = document.createElement('tr');
      tr.append(Object.assign(document.createElement('th'), { textContent: k }), Object.assign(document.createElement('td'), { textContent: `${(v / 1000).toFixed(2)} s` }));
      return tr;
    }));
    // The headline's run on this device: 20 steps (PNDM makes 21 UNet calls), guidance, 512×512.
    const calls = HEADLINE.steps + (q.scheduler === 'pndm' ? 1 : 0);
    const projected = context.costs ? estimateMs(context.costs, { steps: calls, width: HEADLINE.width, height: HEADLINE.height, batch: 2, downscaleFactor: context.downscaleFactor }) : undefined;
    // Full-quality previews are the person's extra, not the run's: left out, as the cost model leaves them out.
    this.el.verdict.textContent = describeVerdict({ steps: q.steps, width: q.width, height: q.height, totalMs: t.totalMs - t.previewMs, guided: q.guidanceScale > 1,
      ...(lay ? { layout: { width: lay.width, height: lay.height, fullSteps: lay.fullSteps } } : {}) }, projected);
    this.showPicture();
    delete this.el.output.dataset.restored;
    // For scripts that drive the page (scripts/bench.ts): the run's exact figures.
    this.el.output.dataset.timings = JSON.stringify({ ...r.timings, request: r.request, ...(r.layout ? { layout: r.layout } : {}) });
    this.el.output.dataset.generation = String(Number(this.el.output.dataset.generation ?? 0) + 1);
    const caption = this.el.settings.textContent;
    const verdict = this.el.verdict.textContent;
    this.el.canvas.toBlob((png) => {
      if (!png) return;
      this.setDownload(png, `pocket-diffusion-${q.seed}.png`);
      void set('last-picture', { png, caption, verdict } satisfies LastPicture, this.db()).catch(() => undefined);
    }, 'image/png');
    // On a phone the picture may sit below what is on screen: bring it into view.
    const box = this.el.canvas.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) this.el.canvas.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  /** Scrolled just enough that the picture's box (the last picture, or the placeholder) is on screen, where it is
   *  not: a phone, the box below Generate, which stays in view (with Cancel) above it. */
  bringIntoView(): void {
    const pic = this.el.canvas.hidden ? this.el.placeholder : this.el.canvas;
    const below = pic.getBoundingClientRect().bottom - window.innerHeight;
    if (below > 0) window.scrollBy({ top: below + 8, behavior: 'smooth' });
  }

  private setDownload(png: Blob, name: string): void {
    if (this.el.download.href.startsWith('blob:')) URL.revokeObjectURL(this.el.download.href);
    this.el.download.href = URL.createObjectURL(png);
    this.el.download.download = name;
    this.el.download.hidden = false;
  }

  private showPicture(): void {
    this.el.placeholder.hidden = true;
    this.el.canvas.hidden = false;
  }
}

/** The stages' times; a two-pass run's UNet in its two passes, each at its own size and pace. */
function timingRows(t: Timings, unet: number, layout?: { readonly width: number; readonly height: number; readonly calls: number; readonly full: string }): [string, number][] {
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const row = (what: string, ms: readonly number[]): [string, number] => [`${what} (${ms.length} calls, ${(sum(ms) / ms.length).toFixed(0)} ms each)`, sum(ms)];
  const unetRows = layout
    ? [row(`UNet, sketch at ${layout.width}×${layout.height}`, t.unetMs.slice(0, layout.calls)), row(`UNet, redraw at ${layout.full}`, t.unetMs.slice(layout.calls))]
    : [row('UNet', t.unetMs)];
  return [
    ['Tokenizer', t.tokenizeMs], ['Text encoder', t.textEncoderMs], ...unetRows,
    ['Scheduler', t.schedulerMs], ['VAE decoder', t.vaeMs],
    ...(t.previewMs > 0 ? [['Full-quality previews', t.previewMs] as [string, number]] : []),
    ['Overhead (outside the stages)', Math.max(0, t.totalMs - t.tokenizeMs - t.textEncoderMs - unet - t.schedulerMs - t.vaeMs - t.previewMs)],
    ['Total', t.totalMs],
  ];
}

/** A region's point in words: "top left", "bottom", "centre". */
function placeWord([x, y]: readonly [number, number]): string {
  const col = x < 0.35 ? 'left' : x > 0.65 ? 'right' : '';
  const row = y < 0.35 ? 'top' : y > 0.65 ? 'bottom' : '';
  return [row, col].filter(Boolean).join(' ') || 'centre';
}
