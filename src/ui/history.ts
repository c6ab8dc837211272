// Generated images with their full settings, kept in IndexedDB (a store of their own, apart from the
// weights): re-run, download, delete. Newest first; the PNG is stored, not the raw pixels.
import { createStore, del, entries, set, type UseStore } from 'idb-keyval';
import { planRegions } from '../core/pipeline/regions';
import type { ValidRequest } from '../core/pipeline/request';
import { isSchedulerName, SCHEDULERS } from '../core/schedulers';
import type { GenerateResult, Timings } from '../core/pipeline/text-to-image';
import { $ } from './dom';
import { shortPrompt } from './result';

export interface HistoryEntry {
  readonly id: string;
  readonly createdAt: number;
  readonly request: ValidRequest;
  readonly timings: Timings;
  readonly backend: string;
  readonly packName: string;
  readonly png: Blob;
  /** A two-pass picture's first pass (GenerateResult.layout); absent for one pass. */
  readonly layout?: GenerateResult['layout'];
}


export class HistoryPanel {
  private readonly store: UseStore = createStore('pocket-diffusion-history', 'images');
  private readonly list = $<HTMLUListElement>('history-list');
  private readonly urls: string[] = [];

  constructor(private readonly onRerun: (request: ValidRequest) => void) {}

  async add(entry: Omit<HistoryEntry, 'id' | 'createdAt'>): Promise<void> {
    const createdAt = Date.now();
    await set(`${createdAt}-${Math.random().toString(36).slice(2, 8)}`, { ...entry, createdAt }, this.store);
    await this.render();
  }

  async render(): Promise<void> {
    const all = (await entries<string, Omit<HistoryEntry, 'id'>>(this.store)).map(([id, e]) => ({ ...e, id }));
    all.sort((a, b) => b.createdAt - a.createdAt);
    for (const u of this.urls.splice(0)) URL.revokeObjectURL(u);
    this.list.replaceChildren(...all.map((e) => this.item(e)));
    if (!all.length) this.list.append(Object.assign(document.createElement('li'), { textContent: 'No images yet.' }));
  }

  private item(e: HistoryEntry): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'history-item';
    li.dataset.id = e.id;
    const url = URL.createObjectURL(e.png);
    this.urls.push(url);
    const q = e.request;
    const prompt = shortPrompt(q.prompt);
    const size = `${q.width}×${q.height}${e.layout ? ` (two passes, from ${e.layout.width}×${e.layout.height})` : ''}`;
    // the scheduler as the result's caption names it ("DDIM", not "ddim"); an entry from an older version may name one no longer offered
    const scheduler = isSchedulerName(q.scheduler) ? SCHEDULERS[q.scheduler].label : q.scheduler;
    // (drawn apart where asked and the prompt names objects to draw apart)
    const apart = q.regions && planRegions(q.prompt, q.seed) ? ' · objects drawn apart' : '';
    const caption = `“${prompt}”${apart} · ${size} · ${q.steps} step${q.steps === 1 ? '' : 's'} · ${scheduler} · guidance ${q.guidanceScale} · seed ${q.seed} · ${e.backend} · ${(e.timings.totalMs / 1000).toFixed(1)} s`;
    // The caption beside it says what it shows; the thumbnail itself is decoration to a screen reader.
    const img = Object.assign(document.createElement('img'), { src: url, alt: '', width: 96, height: Math.round((96 * q.height) / q.width) });
    const text = Object.assign(document.createElement('span'), { textContent: caption });
    const rerun = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Re-run' });
    rerun.setAttribute('aria-label', `Re-run ${prompt}, seed ${q.seed}`);
    rerun.addEventListener('click', () => this.onRerun(q));
    const save = Object.assign(document.createElement('a'), { href: url, download: `pocket-diffusion-${q.seed}.png`, textContent: 'Download' });
    save.setAttribute('aria-label', `Download ${prompt}, seed ${q.seed}`);
    const remove = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Delete' });
    remove.setAttribute('aria-label', `Delete ${prompt}, seed ${q.seed} from history`);
    remove.addEventListener('click', async () => {
      await del(e.id, this.store);
      await this.render();
      document.getElementById('history-title')?.focus();
    });
    li.append(img, text, rerun, save, remove);
    return li;
  }
}
