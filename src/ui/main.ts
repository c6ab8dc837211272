// The page's wiring: the form (form.ts), the result view (result.ts), the model list and download
// (model-panel.ts), adding models (add-model.ts), Compare, History and the device report, around one
// PocketEngine — EngineClient, the engine worker's proxy. What the page remembers is in prefs.ts.
import { PocketError } from '../core/errors';
import { comparisonRequests, defaultCompareValues, parseCompareValues, type CompareMode } from '../core/compare';
import { describeEstimate, measuredRun, passBatches } from '../core/estimate';
import type { PreviewImage } from '../core/pipeline/preview';
import { layoutFor, planPasses, untrainedSizeNote, type ImageLimits } from '../core/pipeline/request';
import { DEFAULT_TILES } from '../core/pipeline/tiled-vae';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import type { ClipTokenizer } from '../core/tokenizer/clip-tokenizer';
import { autoChoseWasm, backendNote, detectCapabilities, type BackendChoice, type Capabilities } from '../runtime/capabilities';
import { ChunkStore, type PackRecord } from '../store/chunk-store';
import { imageLimits, packDefaults, packTokenizer, type PackManifest } from '../store/manifest';
import { storedPackReader, type InstallProgress } from '../store/pack-store';
import type { EngineInfo } from '../worker/engine-api';
import { EngineClient } from '../worker/engine-client';
import { AddModelPanel } from './add-model';
import { runComparison } from './compare';
import { renderDeviceReport } from './device-report';
import { $, drawPixels } from './dom';
import { GenerateForm } from './form';
import { HistoryPanel } from './history';
import { ModelPanel } from './model-panel';
import { prefs } from './prefs';
import { setUpPwa, shellCached } from './pwa';
import { ResultView } from './result';

// The built-in pack ships with the app; `?pack=<folder URL>` points the app at another pack's manifest.
const URL_PACK = new URLSearchParams(location.search).get('pack');
const BUILTIN_SOURCE = `${import.meta.env.BASE_URL}models/shapes-int8/`;
const PACK_SOURCE = URL_PACK ?? BUILTIN_SOURCE;
const BUILTIN_OPTION = 'built-in';
/** The built-in pack's name before its manifest is read: the same as its manifest says. */
const BUILTIN_NAME = 'Shapes (stand-in SD 1.x, int8)';

const ui = {
  form: $<HTMLFormElement>('controls'),
  promptCount: $<HTMLSpanElement>('prompt-count'),
  preview: $<HTMLCanvasElement>('preview'),
  previewVae: $<HTMLInputElement>('preview-vae'),
  tiledVae: $<HTMLInputElement>('tiled-vae'),
  lowMemory: $<HTMLInputElement>('low-memory'),
  backend: $<HTMLSelectElement>('backend'),
  backendNote: $<HTMLParagraphElement>('backend-note'),
  generate: $<HTMLButtonElement>('generate'),
  cancel: $<HTMLButtonElement>('cancel'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $<HTMLParagraphElement>('progress-text'),
  error: $<HTMLParagraphElement>('error'),
  status: $<HTMLParagraphElement>('model-status'),
  verdict: $<HTMLParagraphElement>('verdict'),
  sizeNote: $<HTMLParagraphElement>('size-note'),
  examples: $<HTMLDivElement>('prompt-examples'),
  estimate: $<HTMLParagraphElement>('estimate'),
  estimateWarning: $<HTMLParagraphElement>('estimate-warning'),
  compareMode: $<HTMLSelectElement>('compare-mode'),
  compareRun: $<HTMLButtonElement>('compare-run'),
  compareStatus: $<HTMLParagraphElement>('compare-status'),
  compareGrid: $<HTMLDivElement>('compare-grid'),
  deviceReport: $<HTMLElement>('device-report'),
  model: $<HTMLSelectElement>('model'),
};
const form = new GenerateForm(() => showEstimate());
const readyOffline = $<HTMLParagraphElement>('ready-offline');
// Its line is kept while it is empty (styles.css), except where no service worker will ever cache the app
// (`npm run dev` has none): there it would stay a blank line.
readyOffline.hidden = import.meta.env.DEV || !('serviceWorker' in navigator);
const result = new ResultView();


const engine = new EngineClient();
// The engine's worker starts with the page: onnxruntime-web gets ready while the page reads the store or downloads.
engine.warmUp();
// `?history=off` (the benchmark) keeps runs out of the history so that saving images does not compete
// with the next run for the CPU.
const keepHistory = new URLSearchParams(location.search).get('history') !== 'off';
const history = new HistoryPanel((request) => {
  form.fill(request);
  notePromptLength();
  ui.form.requestSubmit();
});
const models = new ModelPanel({
  onRetry: () => void loadModel(),
  onRepair: (source) => {
    if (source === new URL(PACK_SOURCE, location.href).href) void loadModel();
    else void models.ensure(source).catch(showError);
  },
  onDeleted: (packId) => {
    if (prefs.activeModel() === packId) {
      // The chosen model is gone: the built-in one is the choice again.
      prefs.setActiveModel(null);
      if (loaded?.packId === packId) {
        void loadModel();
        return;
      }
    }
    if (loaded?.packId !== packId) return;
    loaded = undefined;
    ui.generate.disabled = true;
    ui.compareRun.disabled = true;
    ui.status.textContent = 'The model was deleted from this device.';
    models.offerDownload('Press Download to fetch it again.');
  },
  onListed: (packs) => fillModelSelect(packs),
  onReimport: () => addPanel.pickFolder(),
});

/** The status line while the model being loaded has files fetched: which model, and that it is once (the box
 *  below has the figures). */
function fetchingStatus(status: InstallProgress['status'], name: string): string | undefined {
  switch (status) {
    case 'download': return `Downloading ${name}: only this once, then it is kept on this device.`;
    case 'repair': return `Repairing ${name}: fetching what is missing.`;
    case 'verify': return `Checking ${name}…`;
    case 'quantize': return `Storing ${name} as int8…`;
    default: return undefined;
  }
}

function fillModelSelect(packs: readonly PackRecord[]): void {
  const builtinUrl = folderOf(BUILTIN_SOURCE);
  const options = packs.map((p) => new Option(p.manifest.name, p.source === builtinUrl ? BUILTIN_OPTION : p.id));
  if (!options.some((o) => o.value === BUILTIN_OPTION)) options.unshift(new Option(BUILTIN_NAME, BUILTIN_OPTION));
  ui.model.replaceChildren(...options);
  // With ?pack=, the list shows that pack (and is locked to it).
  ui.model.value = URL_PACK ? packs.find((p) => p.source === folderOf(URL_PACK))?.id ?? '' : prefs.activeModel() ?? BUILTIN_OPTION;
  if (!ui.model.value && !URL_PACK) ui.model.value = BUILTIN_OPTION;
  ui.model.disabled = !!URL_PACK;
}

const folderOf = (source: string) => models.packs.folderOf(source);

/** The model to load: the one chosen last (a stored pack), else the built-in (or ?pack=) one. */
async function activePack(hooks: Parameters<ModelPanel['active']>[2]): Promise<PackRecord> {
  const chosen = URL_PACK ? null : prefs.activeModel();
  const { pack, chosenGone } = await models.active(chosen && chosen !== BUILTIN_OPTION ? chosen : null, PACK_SOURCE, hooks);
  if (chosenGone) prefs.setActiveModel(null);
  return pack;
}
let loaded: EngineInfo | undefined;
/** The sizes the loading pack's manifest allows, until the model is loaded (then `loaded.limits`: a fixed-size
 *  export's UNet may narrow them). */
let manifestLimits: ImageLimits | undefined;
let running: AbortController | undefined;

function showError(e: unknown): void {
  const err = PocketError.from(e);
  // A bad field's message sits beside the field; everything else under Generate.
  if (err.code === 'bad-request' && form.showError(err)) return;
  ui.error.textContent = err.message;
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
  form.clearErrors();
}

// Each load supersedes the previous one (a backend change during a download, say): the previous one is
// cancelled in the worker, and only the latest call's outcome reaches the page.
let loadSeq = 0;
let loading: AbortController | undefined;

async function loadModel(): Promise<void> {
  const seq = ++loadSeq;
  loading?.abort();
  const load = new AbortController();
  loading = load;
  ui.generate.disabled = true;
  ui.compareRun.disabled = true;
  loaded = undefined;
  showSizeNote(''); // the last model's, until this one says what it was trained at
  manifestLimits = undefined;
  clearError();
  let ownExamples = false;
  ui.status.textContent = 'Checking the model on this device…';
  // Emptied, not hidden: its line stays, so that the page under it does not move when it is written again.
  readyOffline.textContent = '';
  try {
    // The examples from the manifest as soon as it is read (before a first download, not after it), long
    // before the model is loaded: the row is in place by the time the person looks at the prompt, and the
    // last model's stay until then (the row does not come and go).
    let name = 'the model';
    const examples = (m: PackManifest) => {
      if (seq !== loadSeq) return;
      ownExamples = true;
      name = m.name;
      showExamples(m.examplePrompts ?? []);
      // the sizes, the note beside them and the two-pass choice too, in the same frame: on a window tall enough to
      // show them, nothing appears there later (at "ready") to move the page (the loaded UNet may narrow them)
      manifestLimits = imageLimits(m);
      form.applyPack(manifestLimits, packDefaults(m));
      showSizeChoice(manifestLimits);
    };
    // The status line says what the download box under it says (it said "Checking the model…" all through a
    // first download), for this load's own files only.
    const fetching = (p: InstallProgress) => {
      const text = seq === loadSeq ? fetchingStatus(p.status, name) : undefined;
      if (text && ui.status.textContent !== text) ui.status.textContent = text;
    };
    const pack = await activePack({ onManifest: examples, onProgress: fetching });
    if (seq !== loadSeq) return;
    examples(pack.manifest);
    usePromptTokenizer(pack);
    void models.refresh();
    ui.status.textContent = 'Loading the model…';
    const reply = await engine.load({ packId: pack.id, backend: ui.backend.value as BackendChoice, lowMemory: ui.lowMemory.checked }, { signal: load.signal });
    if (seq !== loadSeq) return;
    loaded = reply;
    form.applyPack(reply.limits, reply.defaults);
    showExamples(reply.examplePrompts ?? []);
    const { limits } = reply;
    // (after the name, where the two-line clamp cannot cut it)
    const only = limits.fixed ? ` (exported for ${limits.fixed[0]}×${limits.fixed[1]} only)` : '';
    ui.status.dataset.networkLoadMs = JSON.stringify(reply.networkLoadMs);
    // The status line stays short (its space is kept for two lines on a phone); why WebGPU was or was not
    // used is said beside the Device choice, where the person who changes it is looking.
    ui.status.textContent = `${reply.packName}${only} — ready on ${where(reply)} in ${(reply.loadMs / 1000).toFixed(1)} s.`;
    showBackendNote(reply);
    ui.generate.disabled = false;
    ui.compareRun.disabled = false;
    showEstimate();
    void renderDeviceReport(ui.deviceReport, reply);
    void shellCached().then((cached) => {
      if (!cached || seq !== loadSeq) return;
      readyOffline.textContent = 'Ready offline: the model is stored on this device and the app is cached.';
    });
  } catch (e) {
    if (seq !== loadSeq) return;
    ui.status.textContent = 'The model is not loaded.';
    setBackendNote('');
    if (!ownExamples) showExamples([]); // the last model's prompts are not this one's
    showError(e);
  }
}

// The page's own copy of the loaded pack's tokenizer (read from the store, not the network), to count the prompt's
// tokens as it is typed: said on the label's row, not only after a run.
let promptTokens: { readonly packId: string; readonly tokenizer: ClipTokenizer } | undefined;
let promptTokensFor = '';
let promptCountTimer: ReturnType<typeof setTimeout> | undefined;

function usePromptTokenizer(pack: PackRecord): void {
  if (promptTokensFor === pack.id) return;
  promptTokensFor = pack.id;
  promptTokens = undefined; // (the last pack's counts are not this one's)
  notePromptLength();
  void packTokenizer(pack.manifest, storedPackReader(new ChunkStore(), pack.id)).then((tokenizer) => {
    if (promptTokensFor !== pack.id) return;
    promptTokens = { packId: pack.id, tokenizer };
    notePromptLength();
  }, () => undefined);
}

/** "12/75 tokens"; over the text encoder's length, what it drops, in the warning colour. */
function notePromptLength(): void {
  let text = '';
  let over = false;
  const t = promptTokens?.tokenizer;
  if (t) {
    try {
      const max = t.config.maxLength - 2; // (BOS and EOS)
      const n = t.tokenize(form.el.prompt.value).length;
      over = n > max;
      text = over ? `${n}/${max} tokens: the last ${n - max} ignored` : `${n}/${max} tokens`;
    } catch {
      // (a vocabulary that cannot spell this prompt: the run will say)
    }
  }
  showPromptCount(text, over);
}

function showPromptCount(text: string, over: boolean): void {
  if (ui.promptCount.textContent !== text) ui.promptCount.textContent = text;
  ui.promptCount.dataset.over = String(over);
}

form.el.prompt.addEventListener('input', () => {
  clearTimeout(promptCountTimer);
  promptCountTimer = setTimeout(notePromptLength, 150);
});

/** Beside the Device choice: why WebGPU was not used, or that the WebGPU chosen is emulated on the CPU. */
function showBackendNote(reply: EngineInfo): void {
  const choice = ui.backend.value as BackendChoice;
  setBackendNote(backendNote(choice, reply.capabilities, reply.fallbackReason), noteKind(choice, reply.capabilities, reply.fallbackReason));
}

/** The note as the page foresees it from this page's own look at the GPU, before the model is loaded (seconds;
 *  minutes for a real model): it is in place when the Settings are read, and the load's own word rarely differs. */
function foreseeBackendNote(): void {
  const choice = ui.backend.value as BackendChoice;
  void detectCapabilities().then((caps) => {
    if (!loaded && ui.backend.value === choice) setBackendNote(backendNote(choice, caps), noteKind(choice, caps));
  });
}

/** 'info' where Auto chose the CPU over a software adapter (the right choice); else a warning. */
function noteKind(choice: BackendChoice, caps: Capabilities, fallbackReason?: string): 'info' | 'warning' {
  const auto = autoChoseWasm(choice, caps);
  return auto && (!fallbackReason || fallbackReason === auto) ? 'info' : 'warning';
}

/** Written only when it changes (a live region re-announces every write). */
function setBackendNote(text: string, kind: 'info' | 'warning' = 'warning'): void {
  ui.backendNote.dataset.kind = kind;
  if (ui.backendNote.textContent !== text) ui.backendNote.textContent = text;
}

/** The prompts the loaded model draws well, as buttons under Generate ("Try: …"; after it, so that Generate
 *  stays an early Tab stop): a small model knows a small world, and a newcomer should not guess its words. */
function showExamples(prompts: readonly string[]): void {
  const shown = [...ui.examples.querySelectorAll('button')].map((b) => b.textContent);
  if (!ui.examples.hidden && shown.join('\n') === prompts.join('\n')) return; // the same row: left as it is
  ui.examples.querySelectorAll('button').forEach((b) => b.remove());
  for (const text of prompts) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = text;
    b.addEventListener('click', () => {
      form.usePrompt(text);
      notePromptLength();
    });
    ui.examples.append(b);
  }
  ui.examples.hidden = prompts.length === 0;
}

/** The note beside the size controls: written only when it changes (a live region re-announces every
 *  write), and emptied rather than hidden, so that its first words are announced too. */
function showSizeNote(text: string): void {
  if (ui.sizeNote.textContent !== text) ui.sizeNote.textContent = text;
  ui.sizeNote.dataset.kind = text.startsWith('Two passes') ? 'info' : 'warning';
}

/** The note beside the size and the two-pass choice, for a pack's limits (its manifest's, then the loaded model's). */
function showSizeChoice(limits: ImageLimits): void {
  const shape = form.shape();
  showSizeNote(untrainedSizeNote(limits, shape.width, shape.height, shape.twoPass, shape.steps));
  // the choice shows where it matters: above the pack's layout size
  form.el.twoPassField.hidden = !layoutFor(limits, shape.width, shape.height);
}

function showEstimate(): void {
  if (!loaded) {
    // before "ready" (a first download): the note beside the size follows the choices already, from the manifest
    if (manifestLimits) showSizeChoice(manifestLimits);
    return;
  }
  const shape = form.shape();
  const plan = planPasses(loaded.limits, shape);
  const { batch, layoutBatch } = passBatches(shape.guidance > 1, shape.regions, !!plan);
  const run = {
    steps: plan ? plan.fullSteps : shape.steps, width: shape.width, height: shape.height, downscaleFactor: loaded.downscaleFactor,
    ...(plan ? { layout: { width: plan.layout[0], height: plan.layout[1], steps: shape.steps, ...(layoutBatch ? { batch: layoutBatch } : {}) } } : {}),
  };
  showSizeChoice(loaded.limits);
  if (!(run.steps >= 1 && run.width > 0 && run.height > 0)) {
    ui.estimate.textContent = '';
    ui.estimateWarning.hidden = true;
    return;
  }
  const w = loaded.capabilities.webgpu;
  const gpu = loaded.backend === 'webgpu' && w ? Math.min(w.maxBufferSize, w.maxStorageBufferBindingSize) : undefined;
  const { text, warning } = describeEstimate(prefs.costs(loaded.packId, loaded.backend), { ...run, batch }, loaded.attention, batch, gpu);
  ui.estimate.textContent = `Time: ${text}.`;
  ui.estimateWarning.textContent = warning;
  ui.estimateWarning.hidden = !warning;
}

/** Where the model runs, in the status line: the API and, for a newcomer, the chip it means (the adapter's
 *  name, which may be long, is in the picture's caption and the device report). */
function where(reply: EngineInfo): string {
  const threads = reply.capabilities.wasmThreads;
  if (reply.backend === 'webgpu') return reply.capabilities.webgpu && reply.capabilities.webgpu.software ? 'WebGPU (emulated on the CPU)' : 'WebGPU (GPU)';
  return `WASM (CPU, ${threads} thread${threads > 1 ? 's' : ''})`;
}

/** The backend in a picture's caption and the history: with the adapter, to tell runs on two GPUs apart. */
function backendLabel(reply: EngineInfo): string {
  const threads = reply.capabilities.wasmThreads;
  return reply.backend === 'webgpu' && reply.capabilities.webgpu ? `WebGPU (${reply.capabilities.webgpu.adapter})` : `WASM (${threads} thread${threads > 1 ? 's' : ''})`;
}

function drawPreview(img: PreviewImage): void {
  drawPixels(ui.preview, img);
  ui.preview.hidden = false;
}

/** A finished run: folded into this device's cost model, shown (with its projection to the headline's
 * run from the updated model), and kept in the history. */
function finished(r: GenerateResult): void {
  const info = loaded;
  const t = r.timings;
  const costs = info ? prefs.recordRun(info.packId, info.backend, measuredRun(r, info.downscaleFactor)) : undefined;
  showEstimate();
  result.show(r, { backend: info ? backendLabel(info) : '', costs, downscaleFactor: info?.downscaleFactor ?? 8 });
  // Where a run is judged slow, why it ran on the CPU (the full reason is under the Device choice in Settings,
  // which a phone keeps folded).
  if (info?.fallbackReason) ui.verdict.textContent += ' It ran on the CPU: this device\'s WebGPU was not used (why: Settings, under Device).';
  // The count is the box's, as typed since (the run's own prompt may be another); without the page's tokenizer,
  // what the run dropped, while the box still holds its prompt.
  if (promptTokens) notePromptLength();
  else if (r.droppedTokens.prompt && form.el.prompt.value === r.request.prompt) showPromptCount(`the last ${r.droppedTokens.prompt} tokens were ignored`, true);
  if (!keepHistory || !info) return;
  const { packName } = info;
  const backend = backendLabel(info);
  result.canvas.toBlob((png) => {
    if (png) void history.add({ request: r.request, timings: t, backend, packName, png, ...(r.layout ? { layout: r.layout } : {}) });
  }, 'image/png');
}

/** A generation or a comparison starts: one at a time, cancellable, the device fixed until it ends. */
function beginRun(): AbortController {
  clearError();
  running = new AbortController();
  ui.form.dataset.running = '';
  for (const b of [ui.generate, ui.compareRun, ui.backend]) b.disabled = true;
  ui.cancel.disabled = false;
  ui.preview.hidden = true;
  return running;
}

/** Whatever happened, the page is ready for the next run; a lost GPU device reloads the model. */
function endRun(err?: PocketError): void {
  running = undefined;
  delete ui.form.dataset.running;
  ui.preview.hidden = true;
  result.busy(false);
  ui.backend.disabled = false;
  ui.generate.disabled = !loaded;
  ui.compareRun.disabled = !loaded;
  ui.cancel.disabled = true;
  // The reload clears old messages as it starts, so the device-lost message is shown after it.
  if (err?.code === 'device-lost') void loadModel();
  if (err && err.code !== 'aborted') showError(err);
}

ui.form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (running) return;
  const run = beginRun();
  result.busy(true); // (not for a comparison: it leaves the picture on show as it is)
  // On a phone the picture is below Generate: brought into view now, as the person presses (the live preview is
  // drawn there), not when the run ends, when the page jumped ~230 px by itself.
  result.bringIntoView();
  ui.progress.value = 0;
  ui.progressText.textContent = 'Encoding the prompt…';
  let failure: PocketError | undefined;
  // Read once per run, not on every step.
  const costs = loaded ? prefs.costs(loaded.packId, loaded.backend) : undefined;
  try {
    const request = form.read();
    const r = await engine.generate(request, {
      signal: run.signal,
      preview: ui.previewVae.checked ? 'vae' : 'fast',
      ...(ui.tiledVae.checked ? { vaeTiles: DEFAULT_TILES } : {}),
      onProgress: (p) => {
        // The bar and the time left follow the UNet's work, not its calls: a two-pass run's layout calls
        // (a quarter of the latent pixels at 512×512 from 256×256) are quicker than the full-size ones after them.
        ui.progress.max = p.workTotal;
        ui.progress.value = p.workDone;
        const perWork = p.loopElapsedMs / p.workDone;
        // the VAE's share comes from this device's cost model
        const vae = costs && request.width && request.height ? (costs.vaeMsPerMegapixel * request.width * request.height) / 1e6 : 0;
        const eta = ((p.workTotal - p.workDone) * perWork + vae) / 1000;
        // One line in the prompt's column, even on a phone (its space is kept for one: styles.css); the rate is
        // said when the run is done.
        const pass = p.pass === 'layout' ? ' (sketch)' : p.pass === 'full' ? ' (redraw)' : '';
        ui.progressText.textContent = `Step ${p.step} of ${p.totalSteps}${pass} · ${(p.elapsedMs / 1000).toFixed(1)} s · about ${eta.toFixed(eta < 10 ? 1 : 0)} s left`;
        if (p.preview) drawPreview(p.preview);
      },
    });
    const t = r.timings;
    const rate = t.unetMs.length / ((t.unetMs.reduce((a, b) => a + b, 0) + t.schedulerMs) / 1000);
    ui.progressText.textContent = `Done in ${(t.totalMs / 1000).toFixed(1)} s (${rate.toFixed(2)} steps/s).`;
    ui.preview.hidden = true;
    finished(r);
    if (form.el.seedMode.value === 'increment') {
      form.el.seed.value = String((r.request.seed + 1) >>> 0);
      form.save();
    }
  } catch (e) {
    failure = PocketError.from(e);
    ui.progressText.textContent = failure.code === 'aborted' ? 'Cancelled.' : '';
  } finally {
    endRun(failure);
  }
});

ui.cancel.addEventListener('click', () => running?.abort());

const compareValues = $<HTMLInputElement>('compare-values');
const compareValuesError = $<HTMLParagraphElement>('compare-values-error');
ui.compareMode.addEventListener('change', () => {
  if (loaded) compareValues.value = defaultCompareValues(ui.compareMode.value as CompareMode, loaded.limits).join(', ');
});

ui.compareRun.addEventListener('click', async () => {
  if (running || !loaded) return;
  const info = loaded;
  compareValues.removeAttribute('aria-invalid');
  compareValuesError.hidden = true;
  let requests;
  try {
    const mode = ui.compareMode.value as CompareMode;
    requests = comparisonRequests(form.read(), mode, info.limits, parseCompareValues(compareValues.value, mode, info.limits));
  } catch (e) {
    const err = PocketError.from(e);
    if (err.detail?.field !== 'compareValues') return showError(err);
    compareValues.setAttribute('aria-invalid', 'true');
    compareValuesError.textContent = err.message;
    compareValuesError.hidden = false;
    compareValues.focus();
    return;
  }
  const run = beginRun();
  let failure: PocketError | undefined;
  try {
    await runComparison(engine, requests, ui.compareGrid, {
      signal: run.signal,
      onStart: (i) => { ui.compareStatus.textContent = `Running ${i + 1} of ${requests.length}…`; },
      onKeep: (r, png) => history.add({ request: r.request, timings: r.timings, backend: backendLabel(info), packName: info.packName, png, ...(r.layout ? { layout: r.layout } : {}) }),
    });
    ui.compareStatus.textContent = `Done: ${requests.length} image${requests.length === 1 ? '' : 's'}.`;
  } catch (e) {
    failure = PocketError.from(e);
    ui.compareStatus.textContent = failure.code === 'aborted' ? 'Comparison cancelled.' : '';
  } finally {
    endRun(failure);
  }
});
// The device choice is remembered: a person who picked WASM on a GPU that misbehaves keeps it.
const savedBackend = prefs.backend();
if (savedBackend && [...ui.backend.options].some((o) => o.value === savedBackend)) ui.backend.value = savedBackend;
ui.backend.addEventListener('change', () => {
  prefs.setBackend(ui.backend.value);
  foreseeBackendNote(); // the last device's reason is not this one's
  void loadModel();
});
// Low-memory mode: remembered; on by default where the browser reports 4 GB of memory or less.
const deviceMemory = (navigator as { deviceMemory?: number }).deviceMemory;
ui.lowMemory.checked = prefs.lowMemory() ?? (deviceMemory !== undefined && deviceMemory <= 4);
ui.lowMemory.addEventListener('change', () => {
  prefs.setLowMemory(ui.lowMemory.checked);
  void loadModel();
});
ui.model.addEventListener('change', () => {
  prefs.setActiveModel(ui.model.value === BUILTIN_OPTION ? null : ui.model.value);
  void loadModel();
});

// A freshly added model becomes the active one.
const addPanel = new AddModelPanel(models, async (pack) => {
  clearError();
  prefs.setActiveModel(pack.id);
  await loadModel();
}, () => loaded?.capabilities);
// The model list before the store is read: the built-in model (where it is the one in use) rather than
// an empty list that widens when it is filled.
if (!URL_PACK && !prefs.activeModel()) fillModelSelect([]);
setUpPwa();
void result.restore();
void history.render();
foreseeBackendNote();
void loadModel();
