// The "Add a model" panel: a folder picked or dropped, an address typed, a catalog entry chosen. The
// store does the work (ModelPanel: local import, download); this panel gathers the input, says what
// happened, and hands the added pack to the page to make it the active one.
import { PocketError } from '../core/errors';
import type { Capabilities } from '../runtime/capabilities';
import { CATALOG, canRun, canRunInt8, gb, type CatalogEntry } from '../store/catalog';
import type { PackRecord } from '../store/chunk-store';
import type { LocalFile } from '../store/local-import';
import { droppedFiles, pickedFiles } from './folder-files';
import type { ModelPanel } from './model-panel';
import { $ } from './dom';

export class AddModelPanel {
  private readonly el = {
    details: $<HTMLDetailsElement>('add-model'),
    folder: $<HTMLInputElement>('import-folder'),
    int8: $<HTMLInputElement>('import-int8'),
    drop: $<HTMLDivElement>('drop-zone'),
    status: $<HTMLParagraphElement>('import-status'),
    form: $<HTMLFormElement>('url-form'),
    url: $<HTMLInputElement>('pack-url'),
    kind: $<HTMLSelectElement>('pack-kind'),
    catalog: $<HTMLUListElement>('catalog'),
  };

  /** The address a person chose to fetch although this device cannot run the model (asked once). */
  private confirmed: string | undefined;

  constructor(private readonly models: ModelPanel, private readonly onAdded: (pack: PackRecord) => Promise<void>, private readonly capabilities: () => Capabilities | undefined) {
    for (const entry of CATALOG) this.el.catalog.append(this.catalogItem(entry));
    $<HTMLSpanElement>('layout-files').textContent = CATALOG[0]!.layout.join(', ');
    this.el.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this.addFromUrl();
    });
    this.el.folder.addEventListener('change', () => {
      const files = this.el.folder.files ? pickedFiles(this.el.folder.files) : [];
      this.el.folder.value = '';
      void this.importFiles(files);
    });
    this.el.drop.addEventListener('dragover', (ev) => {
      ev.preventDefault();
      this.el.drop.classList.add('over');
    });
    this.el.drop.addEventListener('dragleave', () => this.el.drop.classList.remove('over'));
    this.el.drop.addEventListener('drop', (ev) => {
      ev.preventDefault();
      this.el.drop.classList.remove('over');
      if (!ev.dataTransfer) return;
      droppedFiles(ev.dataTransfer).then((files) => this.importFiles(files), (e: unknown) => this.failed(e, 'Import'));
    });
  }

  /** Open the panel and the folder picker (to import a local pack again). */
  pickFolder(): void {
    this.el.details.open = true;
    this.el.folder.click();
  }

  private catalogItem(entry: CatalogEntry): HTMLLIElement {
    this.el.kind.add(new Option(entry.name, entry.id));
    const li = document.createElement('li');
    li.dataset.catalog = entry.id;
    const use = Object.assign(document.createElement('button'), { type: 'button', textContent: `Add ${entry.name}…` });
    const about = Object.assign(document.createElement('div'), { className: 'catalog-about', hidden: true });
    use.setAttribute('aria-expanded', 'false');
    use.addEventListener('click', () => {
      this.el.kind.value = entry.id;
      about.replaceChildren(...this.describe(entry));
      about.hidden = false;
      use.setAttribute('aria-expanded', 'true');
      this.confirmed = undefined;
      this.el.status.textContent = `Then pick the folder of your copy of ${entry.name}, drop it here, or give its address and press "Add from address".`;
    });
    li.append(Object.assign(document.createElement('strong'), { textContent: entry.name }),
      Object.assign(document.createElement('span'), { textContent: ` — ${entry.description}` }), use, about);
    return li;
  }

  /** Where to get it, what each export weighs, and whether this device can run it. */
  private describe(entry: CatalogEntry): HTMLElement[] {
    const caps = this.capabilities();
    const rows = entry.variants.map((v) => {
      const verdict = caps ? canRun(v, caps) : undefined;
      const li = document.createElement('li');
      li.dataset.variant = v.precision;
      if (verdict) li.dataset.verdict = verdict.verdict;
      const label = { yes: 'probably yes', maybe: 'slowly, on the CPU', no: 'no' } as const;
      li.textContent = `${v.precision} export: about ${gb(v.totalBytes)} to download (the UNet alone ${gb(v.unetBytes)}). Can this device run it? ${verdict ? `${label[verdict.verdict]} — ${verdict.why}` : 'load a model first to check this device'}`;
      return li;
    });
    // Either export, stored as int8 on this device ("Store it smaller (int8)"): the same bytes whichever was given.
    const v = entry.variants[entry.variants.length - 1]!;
    const int8 = caps ? canRunInt8(v, caps) : undefined;
    const q = document.createElement('li');
    q.dataset.variant = 'int8';
    if (int8) q.dataset.verdict = int8.verdict;
    const label = { yes: 'probably yes', maybe: 'slowly, on the CPU', no: 'no' } as const;
    q.textContent = `Either, stored as int8 on this device (tick "Store it smaller (int8)" below): about ${gb(v.totalBytes / (v.precision === 'fp16' ? 2 : 4))} stored. Can this device run it? ${int8 ? `${label[int8.verdict]} — ${int8.why}` : 'load a model first to check this device'}`;
    const list = Object.assign(document.createElement('ul'), { className: 'variants' });
    list.append(...rows, q);
    return [Object.assign(document.createElement('p'), { textContent: entry.whereToFind }), list];
  }

  private chosenEntry(): CatalogEntry | undefined {
    return CATALOG.find((e) => e.id === this.el.kind.value);
  }

  private async added(pack: PackRecord, how: string): Promise<void> {
    this.el.status.textContent = `Added "${pack.manifest.name}" (${pack.manifest.files.length} files, ${how}). It is now the active model.`;
    await this.onAdded(pack);
  }

  private failed(e: unknown, what: 'Import' | 'Download'): void {
    const err = PocketError.from(e);
    this.el.status.textContent = err.code === 'aborted'
      ? (what === 'Import' ? 'Import cancelled.' : 'Download cancelled; what arrived is kept.')
      : `Not added: ${err.message}`;
  }

  private async addFromUrl(): Promise<void> {
    const url = this.el.url.value.trim();
    if (!url) {
      this.el.status.textContent = 'Give the address of a model folder first.';
      return;
    }
    // Before the first byte of a multi-GB download: say when this device cannot run it, and ask once more.
    const entry = this.chosenEntry();
    const caps = this.capabilities();
    if (entry && caps && this.confirmed !== url) {
      const verdicts = this.el.int8.checked ? [canRunInt8(entry.variants[0]!, caps)] : entry.variants.map((v) => canRun(v, caps));
      if (verdicts.every((v) => v.verdict === 'no')) {
        this.confirmed = url;
        this.el.status.textContent = `This device probably cannot run ${entry.name}: ${verdicts[0]!.why} Nothing was downloaded. Press "Add from address" again to download it anyway.`;
        return;
      }
    }
    const int8 = this.el.int8.checked;
    this.el.status.textContent = int8 ? 'Reading the model\'s files; it is stored as int8 as it downloads…' : 'Reading the model\'s files…';
    try {
      await this.added(await this.models.addFromUrl(url, this.chosenEntry(), int8), int8 ? 'downloaded and stored as int8' : 'downloaded and checked');
    } catch (e) {
      this.failed(e, 'Download');
    }
  }

  private async importFiles(files: readonly LocalFile[]): Promise<void> {
    if (!files.length) return;
    const int8 = this.el.int8.checked;
    this.el.status.textContent = int8 ? `Storing ${files.length} files as int8…` : `Importing ${files.length} files…`;
    try {
      await this.added(await this.models.importFolder(files, this.chosenEntry(), int8), int8 ? 'stored as int8' : 'checked');
    } catch (e) {
      this.failed(e, 'Import');
    }
  }
}
