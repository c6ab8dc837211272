// The "Add a model" panel: a folder picked or dropped, an address typed, a catalog entry chosen. The
// store does the work (ModelPanel: local import, download); this panel gathers the input, says what
// happened, and hands the added pack to the page to make it the active one.
import { PocketError } from '../core/errors';
import { formatBytes } from '../core/format';
import { CATALOG, type CatalogEntry } from '../store/catalog';
import type { PackRecord } from '../store/chunk-store';
import type { LocalFile } from '../store/local-import';
import { droppedFiles, pickedFiles } from './folder-files';
import type { ModelPanel } from './model-panel';
import { $ } from './dom';


export class AddModelPanel {
  private readonly el = {
    details: $<HTMLDetailsElement>('add-model'),
    folder: $<HTMLInputElement>('import-folder'),
    drop: $<HTMLDivElement>('drop-zone'),
    status: $<HTMLParagraphElement>('import-status'),
    form: $<HTMLFormElement>('url-form'),
    url: $<HTMLInputElement>('pack-url'),
    kind: $<HTMLSelectElement>('pack-kind'),
    catalog: $<HTMLUListElement>('catalog'),
  };

  constructor(private readonly models: ModelPanel, private readonly onAdded: (pack: PackRecord) => Promise<void>) {
    for (const entry of CATALOG) this.el.catalog.append(this.catalogItem(entry));
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
    use.addEventListener('click', () => {
      this.el.kind.value = entry.id;
      this.el.url.focus();
      this.el.status.textContent = `Give the address of your copy of ${entry.name} (${entry.repository}) and press "Add from address", or pick its folder.`;
    });
    li.append(
      Object.assign(document.createElement('strong'), { textContent: entry.name }),
      Object.assign(document.createElement('span'), { textContent: ` — ${entry.description} About ${formatBytes(entry.approxBytes)}. Layout: ${entry.layout.join(', ')}.` }),
      use,
    );
    return li;
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
    this.el.status.textContent = 'Reading the model\'s files…';
    try {
      await this.added(await this.models.addFromUrl(url, this.chosenEntry()), 'downloaded and checked');
    } catch (e) {
      this.failed(e, 'Download');
    }
  }

  private async importFiles(files: readonly LocalFile[]): Promise<void> {
    if (!files.length) return;
    this.el.status.textContent = `Importing ${files.length} files…`;
    try {
      await this.added(await this.models.importFolder(files, this.chosenEntry()), 'checked');
    } catch (e) {
      this.failed(e, 'Import');
    }
  }
}
