// The model on the device, drawn: the download box (progress, speed, time left, cancel, retry) and the
// storage panel (packs, their size and state, repair, delete; space used and available; persistent
// storage). What is stored, downloaded and verified is the PackManager's (src/store/packs.ts).
import { PocketError } from '../core/errors';
import { formatBytes } from '../core/format';
import type { PackRecord } from '../store/chunk-store';
import type { LayoutHints } from '../store/diffusers-layout';
import type { PackManifest } from '../store/manifest';
import type { LocalFile } from '../store/local-import';
import { storageSummary, type InstallProgress } from '../store/pack-store';
import { PackManager } from '../store/packs';
import { $ } from './dom';

export class ModelPanel {
  readonly packs = new PackManager({ storage: navigator.storage, online: () => navigator.onLine, base: location.href });
  private readonly el = {
    box: $<HTMLDivElement>('pack-download'),
    progress: $<HTMLProgressElement>('pack-progress'),
    text: $<HTMLParagraphElement>('pack-progress-text'),
    cancel: $<HTMLButtonElement>('pack-cancel'),
    dismiss: $<HTMLButtonElement>('pack-dismiss'),
    retry: $<HTMLButtonElement>('pack-retry'),
    summary: $<HTMLParagraphElement>('storage-summary'),
    persist: $<HTMLParagraphElement>('storage-persist'),
    list: $<HTMLUListElement>('pack-list'),
  };
  private download: AbortController | undefined;

  constructor(private readonly events: {
    readonly onRetry: () => void;
    readonly onRepair: (source: string) => void;
    readonly onDeleted: (packId: string) => void;
    /** The packs on the device changed (after every redraw of the storage panel). */
    readonly onListed: (packs: readonly PackRecord[]) => void;
    /** A pack imported from local files must be imported again to repair it: open the folder picker. */
    readonly onReimport: () => void;
  }) {
    this.el.cancel.addEventListener('click', () => {
      this.download?.abort();
      this.packs.cancelAll();
    });
    this.el.retry.addEventListener('click', () => this.events.onRetry());
    // The good news stays until the person hides it, with the button in Cancel's place. Not on a timer, nor at
    // their next click anywhere: the box sits above the controls, and folding it moved the page under a first
    // picture being drawn (~50 px, the timer) or under the pointer (Generate, clicked, moved up 134 px and a
    // quick second click landed on an example prompt, replacing the person's own).
    this.el.dismiss.addEventListener('click', () => { this.el.box.hidden = true; });
  }

  /** The stored pack that came from `source`, downloading or repairing whatever is missing first. */
  ensure(source: string): Promise<PackRecord> {
    return this.job((opts) => this.packs.ensure(source, opts));
  }

  /** The pack to load (the one chosen last, else the default source's), fetched if it must be; `hooks` hear its
   *  manifest as soon as it is read, and this job's progress (not an added model's or another pack's repair). */
  active(chosen: string | null, defaultSource: string, hooks: { readonly onManifest?: (m: PackManifest) => void; readonly onProgress?: (p: InstallProgress) => void } = {}): Promise<{ pack: PackRecord; chosenGone: boolean }> {
    const { onManifest, onProgress } = hooks;
    // The box shows only once something is fetched: a stored, complete pack loads without it.
    return this.job((opts) => this.packs.active(chosen, defaultSource, { ...opts, ...(onManifest ? { onManifest } : {}) }), onProgress);
  }

  /** Add the pack at a URL the person gave (its manifest.json, or its diffusers layout). */
  addFromUrl(url: string, hints?: Partial<LayoutHints>, int8 = false): Promise<PackRecord> {
    return this.job((opts) => this.packs.addFromUrl(url, hints, { ...opts, int8 }));
  }

  /** Runs a store job with the download box: progress, cancel, and Retry when it stops. */
  private async job<T>(run: (opts: { signal: AbortSignal; onProgress: (p: InstallProgress) => void }) => Promise<T>, onProgress?: (p: InstallProgress) => void): Promise<T> {
    this.download = new AbortController();
    let shown = false;
    const show = () => {
      if (shown) return;
      shown = true;
      // Asked for, not awaited: some browsers show a prompt, and the download need not wait for it.
      void this.packs.persist().then((granted) => {
        if (granted === undefined) return;
        this.el.persist.textContent = granted ? 'Persistent storage granted: the browser will not evict the models under storage pressure.' : 'Persistent storage was not granted: under storage pressure the browser may evict models (the app then offers a repair).';
      });
      this.el.box.hidden = false;
      this.el.box.dataset.state = 'downloading';
      this.el.progress.hidden = false;
      this.el.cancel.hidden = false;
      this.el.dismiss.hidden = true;
      this.el.retry.hidden = true;
      this.el.cancel.disabled = false;
    };
    try {
      return await run({ signal: this.download.signal, onProgress: (p) => { show(); this.showProgress(p); onProgress?.(p); } });
    } catch (e) {
      const err = PocketError.from(e);
      // A failure before any progress (the space check, the network) still offers Retry; a stored pack
      // that lost part of a local import is the page's message to show (Retry cannot fetch it).
      if (shown || (err.code !== 'aborted' && err.code !== 'integrity')) {
        if (!shown) this.el.progress.value = 0; // (the bar of an earlier download, full, is not this one's)
        this.el.box.hidden = false;
        this.el.box.dataset.state = 'stopped';
        this.el.dismiss.hidden = true;
        this.el.cancel.hidden = true; // (Download takes its place: the box has one button)
        this.el.text.textContent = err.code === 'aborted' ? 'Download cancelled; what arrived is kept.' : 'Download stopped.';
        this.el.retry.hidden = false;
      }
      throw err;
    } finally {
      this.download = undefined;
      this.el.cancel.disabled = true;
      void this.refresh();
    }
  }

  private showProgress(p: InstallProgress): void {
    this.el.progress.max = Math.max(1, p.total);
    this.el.progress.value = p.loaded;
    if (p.status === 'manifest') {
      this.el.text.textContent = 'Reading the model pack’s manifest…';
      return;
    }
    if (p.status === 'ready') {
      this.el.text.textContent = `Downloaded and verified: ${formatBytes(p.total)}.`;
      this.verified();
      return;
    }
    const speed = p.bytesPerSecond > 0 ? ` · ${formatBytes(p.bytesPerSecond)}/s` : '';
    const left = p.secondsLeft !== null ? ` · ${Math.ceil(p.secondsLeft)} s left` : '';
    // Short: on a phone the words share a row with the box's button, in two lines (the status line above says
    // which model, and why).
    const what = p.status === 'repair' ? 'Repairing' : p.status === 'verify' ? 'Checking' : p.status === 'quantize' ? 'Storing as int8' : 'Downloading';
    this.el.text.textContent = `${what}: ${formatBytes(p.loaded)} of ${formatBytes(p.total)}${speed}${left}`;
  }

  /** The download or import is verified: the full bar stays, and "Hide" takes Cancel's place (the same size): the
   *  box keeps its height until the person hides it. */
  private verified(): void {
    this.el.box.dataset.state = 'verified';
    this.el.progress.value = this.el.progress.max;
    this.el.cancel.hidden = true;
    this.el.dismiss.hidden = false;
  }

  /** Copy a picked or dropped folder into the store (hashed; checked against its manifest if it has one). */
  async importFolder(files: readonly LocalFile[], hints?: Partial<LayoutHints>, int8 = false): Promise<PackRecord> {
    this.download = new AbortController();
    this.el.box.hidden = false;
    this.el.box.dataset.state = 'importing';
    this.el.dismiss.hidden = true;
    this.el.text.textContent = 'Reading the folder…';
    this.el.progress.value = 0;
    this.el.progress.hidden = false;
    this.el.cancel.hidden = false;
    this.el.cancel.disabled = false;
    this.el.retry.hidden = true;
    try {
      return await this.packs.importFolder(files, hints, {
        int8,
        signal: this.download.signal,
        onProgress: (p) => {
          if (p.status !== 'ready') {
            this.el.progress.max = Math.max(1, p.total);
            this.el.progress.value = p.loaded;
            this.el.text.textContent = int8
              ? `Storing the model as int8 in this browser's storage: ${formatBytes(p.loaded)} of ${formatBytes(p.total)} read`
              : `Copying the model into this browser's storage: ${formatBytes(p.loaded)} of ${formatBytes(p.total)}`;
            return;
          }
          this.el.text.textContent = int8 ? `Stored as int8: ${formatBytes(p.total)}, every file hashed as it was written.` : `Imported and checked: ${formatBytes(p.total)}.`;
          this.verified();
        },
      });
    } catch (e) {
      this.el.text.textContent = 'Import stopped; nothing of that model was kept.';
      this.el.progress.hidden = true;
      this.el.cancel.hidden = true;
      throw e;
    } finally {
      this.download = undefined;
      void this.refresh();
    }
  }

  /** Offer the download again (after a delete, or when it stopped). */
  offerDownload(label: string): void {
    this.el.box.hidden = false;
    this.el.box.dataset.state = 'offer';
    this.el.progress.hidden = true;
    this.el.cancel.hidden = true;
    this.el.dismiss.hidden = true;
    this.el.text.textContent = label;
    this.el.retry.hidden = false;
  }

  /** Redraw the storage panel. */
  async refresh(): Promise<void> {
    const [packs, space] = await Promise.all([this.packs.list(), storageSummary(navigator.storage)]);
    this.el.summary.textContent = space.quota
      ? `This site uses ${formatBytes(space.usage)} of ${formatBytes(space.quota)} the browser allows it (${formatBytes(Math.max(0, space.quota - space.usage))} free).`
      : 'This browser does not report storage use.';
    if (space.persisted) this.el.persist.textContent = 'Persistent storage granted: the browser will not evict the models under storage pressure.';
    const items = packs.map(({ pack, state }) => {
      const li = document.createElement('li');
      li.dataset.pack = pack.id;
      li.dataset.state = state.complete ? 'verified' : 'incomplete';
      const label = state.complete
        ? `${pack.manifest.name} — ${formatBytes(pack.manifest.totalBytes)}, verified`
        : `${pack.manifest.name} — ${formatBytes(state.storedBytes)} of ${formatBytes(pack.manifest.totalBytes)} stored, incomplete`;
      li.append(Object.assign(document.createElement('span'), { textContent: label }));
      if (!state.complete) {
        const local = pack.source.startsWith('local:');
        // A pack from local files has no server to repair from: the folder is imported again.
        const repair = Object.assign(document.createElement('button'), { type: 'button', textContent: local ? 'Import the folder again' : 'Repair' });
        repair.addEventListener('click', () => (local ? this.events.onReimport() : this.events.onRepair(pack.source)));
        li.append(repair);
      }
      const del = Object.assign(document.createElement('button'), { type: 'button', textContent: 'Delete' });
      del.setAttribute('aria-label', `Delete ${pack.manifest.name}`);
      del.addEventListener('click', async () => {
        // A download of this pack in flight stops first, so it cannot write chunks after the delete.
        await this.packs.remove(pack);
        await this.refresh();
        this.events.onDeleted(pack.id);
      });
      li.append(del);
      return li;
    });
    this.el.list.replaceChildren(...items);
    this.events.onListed(packs.map((p) => p.pack));
    if (!items.length) this.el.list.append(Object.assign(document.createElement('li'), { textContent: 'No models on this device.' }));
  }
}
