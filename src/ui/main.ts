// The page: reads the controls into a request, runs it on the engine worker, shows progress, the
// image, its settings and timings against the 15-second headline, and offers it as a PNG.
import { PocketError } from '../core/errors';
import { randomSeed } from '../core/random';
import { SCHEDULERS } from '../core/schedulers';
import type { PreviewImage } from '../core/pipeline/preview';
import type { GenerateRequest } from '../core/pipeline/request';
import type { BackendChoice } from '../runtime/capabilities';
import { EngineClient } from '../worker/engine-client';
import { comparisonRequests, type CompareMode } from '../core/compare';
import { describeEstimate } from '../core/estimate';
import { runComparison } from './compare';
import { renderDeviceReport } from './device-report';
import { loadCosts, recordRun } from './estimate';
import { HistoryPanel } from './history';
import { AddModelPanel } from './add-model';
import { ModelPanel } from './model-panel';
import type { PackRecord } from '../store/chunk-store';
import { folderUrl, inspectPack } from '../store/pack-store';
import { setUpPwa } from './pwa';
import type { EngineInfo } from '../worker/engine-api';
import type { GenerateResult } from '../core/pipeline/text-to-image';
import { DEFAULT_TILES } from '../core/pipeline/tiled-vae';
import { $, drawPixels } from './dom';

// The built-in pack ships with the app; `?pack=<folder URL>` points the app at another pack's manifest.
const URL_PACK = new URLSearchParams(location.search).get('pack');
const BUILTIN_SOURCE = `${import.meta.env.BASE_URL}models/shapes-int8/`;
const PACK_SOURCE = URL_PACK ?? BUILTIN_SOURCE;
/** The model the person chose last (a stored pack's id); the built-in one when none was chosen. */
const ACTIVE_KEY = 'pocket-diffusion.model';
const BUILTIN_OPTION = 'built-in';
const HEADLINE_MS = 15_000;

const ui = {
  form: $<HTMLFormElement>('controls'),
  prompt: $<HTMLTextAreaElement>('prompt'),
  promptNote: $<HTMLParagraphElement>('prompt-note'),
  negative: $<HTMLInputElement>('negative'),
  steps: $<HTMLInputElement>('steps'),
  width: $<HTMLSelectElement>('width'),
  height: $<HTMLSelectElement>('height'),
  guidance: $<HTMLInputElement>('guidance'),
  seed: $<HTMLInputElement>('seed'),
  seedMode: $<HTMLSelectElement>('seed-mode'),
  preview: $<HTMLCanvasElement>('preview'),
  previewVae: $<HTMLInputElement>('preview-vae'),
  tiledVae: $<HTMLInputElement>('tiled-vae'),
  lowMemory: $<HTMLInputElement>('low-memory'),
  scheduler: $<HTMLSelectElement>('scheduler'),
  backend: $<HTMLSelectElement>('backend'),
  generate: $<HTMLButtonElement>('generate'),
  cancel: $<HTMLButtonElement>('cancel'),
  progress: $<HTMLProgressElement>('progress'),
  progressText: $<HTMLParagraphElement>('progress-text'),
  error: $<HTMLParagraphElement>('error'),
  status: $<HTMLParagraphElement>('model-status'),
  output: $<HTMLElement>('output'),
  canvas: $<HTMLCanvasElement>('image'),
  settings: $<HTMLParagraphElement>('settings'),
  timings: $<HTMLTableElement>('timings'),
  verdict: $<HTMLParagraphElement>('verdict'),
  download: $<HTMLAnchorElement>('download'),
  estimate: $<HTMLParagraphElement>('estimate'),
  estimateWarning: $<HTMLParagraphElement>('estimate-warning'),
  compareMode: $<HTMLSelectElement>('compare-mode'),
  compareRun: $<HTMLButtonElement>('compare-run'),
  compareStatus: $<HTMLParagraphElement>('compare-status'),
  compareGrid: $<HTMLDivElement>('compare-grid'),
  deviceReport: $<HTMLElement>('device-report'),
  model: $<HTMLSelectElement>('model'),
};

const engine = new EngineClient();
// `?history=off` (the benchmark) keeps runs out of the history so that saving images does not compete
// with the next run for the CPU.
const keepHistory = new URLSearchParams(location.search).get('history') !== 'off';
const history = new HistoryPanel((request) => {
  ui.prompt.value = request.prompt;
  ui.negative.value = request.negativePrompt;
  ui.steps.value = String(request.steps);
  ui.width.value = String(request.width);
  ui.height.value = String(request.height);
  ui.guidance.value = String(request.guidanceScale);
  ui.seed.value = String(request.seed);
  ui.seedMode.value = 'fixed';
  ui.seed.readOnly = false;
  ui.scheduler.value = request.scheduler;
  showEstimate();
  ui.form.requestSubmit();
});
const models = new ModelPanel({
  onRetry: () => void loadModel(),
  onRepair: (source) => {
    if (source === new URL(PACK_SOURCE, location.href).href) void loadModel();
    else void models.ensure(source).catch(showError);
  },
  onDeleted: (packId) => {
    if (localStorage.getItem(ACTIVE_KEY) === packId) {
      // The chosen model is gone: the built-in one is the choice again.
      localStorage.removeItem(ACTIVE_KEY);
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

function fillModelSelect(packs: readonly PackRecord[]): void {
  const builtinUrl = folderOf(BUILTIN_SOURCE);
  const options = packs.map((p) => new Option(p.manifest.name, p.source === builtinUrl ? BUILTIN_OPTION : p.id));
  if (!options.some((o) => o.value === BUILTIN_OPTION)) options.unshift(new Option('Shapes (built-in stand-in)', BUILTIN_OPTION));
  ui.model.replaceChildren(...options);
  // With ?pack=, the list shows that pack (and is locked to it).
  ui.model.value = URL_PACK ? packs.find((p) => p.source === folderOf(URL_PACK))?.id ?? '' : localStorage.getItem(ACTIVE_KEY) ?? BUILTIN_OPTION;
  if (!ui.model.value && !URL_PACK) ui.model.value = BUILTIN_OPTION;
  ui.model.disabled = !!URL_PACK;
}

const folderOf = (source: string) => folderUrl(new URL(source, location.href).href);

/** The stored pack to run: the one chosen in the Model list, or the built-in / `?pack=` one. */
async function activePack(): Promise<PackRecord> {
  const chosen = URL_PACK ? null : localStorage.getItem(ACTIVE_KEY);
  if (chosen && chosen !== BUILTIN_OPTION) {
    const stored = await models.store.getPack(chosen);
    if (stored && (await inspectPack(models.store, stored.manifest)).complete) return stored;
    if (stored && !stored.source.startsWith('local:')) return models.ensure(stored.source);
    if (stored) throw new PocketError('integrity', `Part of "${stored.manifest.name}" is missing from this device (the browser may have evicted it). Import its folder again under "Add a model", or choose another model.`);
    localStorage.removeItem(ACTIVE_KEY);
  }
  return models.ensure(PACK_SOURCE);
}
let loaded: EngineInfo | undefined;
let running: AbortController | undefined;

for (const [name, s] of Object.entries(SCHEDULERS)) ui.scheduler.add(new Option(s.label, name));

function showError(e: unknown): void {
  const err = PocketError.from(e);
  ui.error.textContent = err.message;
  ui.error.hidden = false;
  const field = err.detail?.field;
  const input = typeof field === 'string' ? ({ steps: ui.steps, width: ui.width, height: ui.height, guidanceScale: ui.guidance, seed: ui.seed, prompt: ui.prompt } as Record<string, HTMLElement>)[field] : undefined;
  input?.setAttribute('aria-invalid', 'true');
  input?.focus();
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.textContent = '';
  for (const el of ui.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
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
  clearError();
  ui.status.textContent = 'Checking the model on this device…';
  try {
    const pack = await activePack();
    if (seq !== loadSeq) return;
    void models.refresh();
    ui.status.textContent = 'Loading the model…';
    const reply = await engine.load({ packId: pack.id, backend: ui.backend.value as BackendChoice, lowMemory: ui.lowMemory.checked }, { signal: load.signal });
    if (seq !== loadSeq) return;
    loaded = reply;
    const { limits, defaults } = reply;
    if (!ui.scheduler.dataset.touched) ui.scheduler.value = defaults.scheduler;
    for (const select of [ui.width, ui.height]) {
      const keep = select.value;
      select.replaceChildren();
      if (limits.fixed) {
        // An export with baked-in latent size runs at that one size only.
        const v = String(select === ui.width ? limits.fixed[0] : limits.fixed[1]);
        select.add(new Option(v, v));
      } else {
        for (let v = limits.minSize; v <= limits.maxSize; v += limits.multipleOf) select.add(new Option(String(v), String(v)));
      }
      const fallback = String(select === ui.width ? defaults.width : defaults.height);
      select.value = [...select.options].some((o) => o.value === keep) ? keep : fallback;
    }
    const fellBack = reply.fallbackReason ? ` WebGPU was not used: ${reply.fallbackReason}` : '';
    const gpu = reply.capabilities.webgpu;
    const software = reply.backend === 'webgpu' && gpu && gpu.software
      ? ' Warning: this WebGPU adapter is a software renderer (the GPU emulated on the CPU): expect it to be many times slower than WASM.'
      : '';
    const only = limits.fixed ? ` This model was exported for ${limits.fixed[0]}×${limits.fixed[1]} only.` : '';
    ui.status.textContent = `${reply.packName} — ready on ${backendLabel(reply)}, loaded in ${(reply.loadMs / 1000).toFixed(1)} s.${only}${fellBack}${software}`;
    // A model's own defaults (SD-Turbo: 1 step, no guidance) unless the person set these.
    if (!ui.steps.dataset.touched) ui.steps.value = String(defaults.steps);
    if (!ui.guidance.dataset.touched) ui.guidance.value = String(defaults.guidanceScale);
    ui.generate.disabled = false;
    ui.compareRun.disabled = false;
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-size]')) {
      const [w, h] = b.dataset.size!.split('x');
      const offered = (sel: HTMLSelectElement, v: string | undefined) => [...sel.options].some((o) => o.value === v);
      b.disabled = !(offered(ui.width, w) && offered(ui.height, h));
    }
    showEstimate();
    void renderDeviceReport(ui.deviceReport, reply);
  } catch (e) {
    if (seq !== loadSeq) return;
    ui.status.textContent = 'The model is not loaded.';
    showError(e);
  }
}

function readRequest(): GenerateRequest {
  if (ui.seedMode.value === 'random') ui.seed.value = String(randomSeed());
  const num = (el: HTMLInputElement | HTMLSelectElement) => (el.value.trim() === '' ? Number.NaN : Number(el.value));
  return {
    prompt: ui.prompt.value,
    negativePrompt: ui.negative.value,
    steps: num(ui.steps),
    width: num(ui.width),
    height: num(ui.height),
    guidanceScale: num(ui.guidance),
    seed: num(ui.seed),
    scheduler: ui.scheduler.value,
  };
}

function showEstimate(): void {
  if (!loaded) return;
  const run = { steps: Number(ui.steps.value), width: Number(ui.width.value), height: Number(ui.height.value), downscaleFactor: loaded.downscaleFactor };
  if (!(run.steps >= 1 && run.width > 0 && run.height > 0)) {
    ui.estimate.textContent = '';
    ui.estimateWarning.hidden = true;
    return;
  }
  const w = loaded.capabilities.webgpu;
  const gpu = loaded.backend === 'webgpu' && w ? Math.min(w.maxBufferSize, w.maxStorageBufferBindingSize) : undefined;
  const batch = Number(ui.guidance.value) > 1 ? 2 : 1;
  const { text, warning } = describeEstimate(loadCosts(loaded.packId, loaded.backend), { ...run, batch }, loaded.attention, batch, gpu);
  ui.estimate.textContent = `Estimate: ${text}.`;
  ui.estimateWarning.textContent = warning;
  ui.estimateWarning.hidden = !warning;
}

function backendLabel(reply: EngineInfo): string {
  const threads = reply.capabilities.wasmThreads;
  return reply.backend === 'webgpu' && reply.capabilities.webgpu ? `WebGPU (${reply.capabilities.webgpu.adapter})` : `WASM (${threads} thread${threads > 1 ? 's' : ''})`;
}

function drawPreview(img: PreviewImage): void {
  drawPixels(ui.preview, img);
  ui.preview.hidden = false;
}

/** Fold the run into this device's cost model and keep the image in the history. */
function remember(r: GenerateResult): void {
  if (!loaded) return;
  const t = r.timings;
  const unet = t.unetMs.reduce((a, b) => a + b, 0);
  recordRun(loaded.packId, loaded.backend, { steps: t.unetMs.length, width: r.request.width, height: r.request.height, batch: r.request.guidanceScale > 1 ? 2 : 1, downscaleFactor: loaded.downscaleFactor },
    unet + t.schedulerMs, t.vaeMs, t.totalMs - t.previewMs);
  showEstimate();
  const { packName } = loaded;
  const backend = backendLabel(loaded);
  if (!keepHistory) return;
  ui.canvas.toBlob((png) => {
    if (png) void history.add({ request: r.request, timings: t, backend, packName, png });
  }, 'image/png');
}

function showResult(r: GenerateResult): void {
  drawPixels(ui.canvas, r);
  const q = r.request;
  ui.settings.textContent = `“${q.prompt}” · ${q.width}×${q.height} · ${q.steps} steps · ${SCHEDULERS[q.scheduler].label} · guidance ${q.guidanceScale} · seed ${q.seed} · ${loaded ? backendLabel(loaded) : ''}`;
  const t = r.timings;
  const unet = t.unetMs.reduce((a, b) => a + b, 0);
  const rows: [string, number][] = [
    ['Tokenizer', t.tokenizeMs], ['Text encoder', t.textEncoderMs], [`UNet (${t.unetMs.length} calls, ${(unet / t.unetMs.length).toFixed(0)} ms each)`, unet],
    ['Scheduler', t.schedulerMs], ['VAE decoder', t.vaeMs],
    ...(t.previewMs > 0 ? [['Full-quality previews', t.previewMs] as [string, number]] : []),
    ['Overhead (outside the stages)', Math.max(0, t.totalMs - t.tokenizeMs - t.textEncoderMs - unet - t.schedulerMs - t.vaeMs - t.previewMs)],
    ['Total', t.totalMs],
  ];
  ui.timings.replaceChildren(...rows.map(([k, v]) => {
    const tr = document.createElement('tr');
    tr.append(Object.assign(document.createElement('th'), { textContent: k }), Object.assign(document.createElement('td'), { textContent: `${(v / 1000).toFixed(2)} s` }));
    return tr;
  }));
  const itPerSecond = t.unetMs.length / ((unet + t.schedulerMs) / 1000);
  const under = t.totalMs <= HEADLINE_MS;
  ui.verdict.textContent = `${(t.totalMs / 1000).toFixed(1)} s at ${itPerSecond.toFixed(2)} it/s — ${under ? 'under' : 'over'} the 15-second headline (20 steps at 512×512 on a phone).`;
  ui.promptNote.textContent = r.droppedTokens.prompt ? `The model reads 75 tokens: the last ${r.droppedTokens.prompt} of your prompt were ignored.` : '';
  ui.canvas.toBlob((blob) => {
    if (!blob) return;
    URL.revokeObjectURL(ui.download.href);
    ui.download.href = URL.createObjectURL(blob);
    ui.download.download = `pocket-diffusion-${q.seed}.png`;
  }, 'image/png');
  ui.output.hidden = false;
  // For scripts that drive the page (scripts/bench.ts): the run's exact figures.
  ui.output.dataset.timings = JSON.stringify({ ...r.timings, request: r.request });
  ui.output.dataset.generation = String(Number(ui.output.dataset.generation ?? 0) + 1);
}

/** A generation or a comparison starts: one at a time, cancellable, the device fixed until it ends. */
function beginRun(): AbortController {
  clearError();
  running = new AbortController();
  for (const b of [ui.generate, ui.compareRun, ui.backend]) b.disabled = true;
  ui.cancel.disabled = false;
  ui.preview.hidden = true;
  return running;
}

/** Whatever happened, the page is ready for the next run; a lost GPU device reloads the model. */
function endRun(err?: PocketError): void {
  running = undefined;
  ui.preview.hidden = true;
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
  ui.progress.value = 0;
  ui.progressText.textContent = 'Encoding the prompt…';
  let failure: PocketError | undefined;
  // Read once per run, not on every step.
  const costs = loaded ? loadCosts(loaded.packId, loaded.backend) : undefined;
  try {
    const r = await engine.generate(readRequest(), {
      signal: run.signal,
      preview: ui.previewVae.checked ? 'vae' : 'fast',
      ...(ui.tiledVae.checked ? { vaeTiles: DEFAULT_TILES } : {}),
      onProgress: (p) => {
        ui.progress.max = p.totalSteps;
        ui.progress.value = p.step;
        // The loop's steps so far give the pace; the VAE's share comes from this device's cost model.
        const perStep = p.loopElapsedMs / p.step;
        const vae = costs ? (costs.vaeMsPerMegapixel * Number(ui.width.value) * Number(ui.height.value)) / 1e6 : 0;
        const eta = ((p.totalSteps - p.step) * perStep + vae) / 1000;
        ui.progressText.textContent = `Step ${p.step} of ${p.totalSteps} · ${(p.elapsedMs / 1000).toFixed(1)} s · ${(1000 / perStep).toFixed(2)} it/s · about ${eta.toFixed(1)} s left`;
        if (p.preview) drawPreview(p.preview);
      },
    });
    ui.progressText.textContent = `Done in ${(r.timings.totalMs / 1000).toFixed(1)} s.`;
    ui.preview.hidden = true;
    showResult(r);
    remember(r);
    if (ui.seedMode.value === 'increment') ui.seed.value = String((r.request.seed + 1) >>> 0);
  } catch (e) {
    failure = PocketError.from(e);
    ui.progressText.textContent = failure.code === 'aborted' ? 'Cancelled.' : '';
  } finally {
    endRun(failure);
  }
});

ui.cancel.addEventListener('click', () => running?.abort());

ui.compareRun.addEventListener('click', async () => {
  if (running || !loaded) return;
  const run = beginRun();
  const requests = comparisonRequests(readRequest(), ui.compareMode.value as CompareMode, loaded.limits);
  let failure: PocketError | undefined;
  try {
    await runComparison(engine, requests, ui.compareGrid, {
      signal: run.signal,
      onStart: (i) => { ui.compareStatus.textContent = `Running ${i + 1} of ${requests.length}…`; },
    });
    ui.compareStatus.textContent = `Done: ${requests.length} images.`;
  } catch (e) {
    failure = PocketError.from(e);
    ui.compareStatus.textContent = failure.code === 'aborted' ? 'Comparison cancelled.' : '';
  } finally {
    endRun(failure);
  }
});
for (const el of [ui.steps, ui.width, ui.height, ui.guidance]) el.addEventListener('input', showEstimate);
for (const el of [ui.width, ui.height]) el.addEventListener('change', showEstimate);
ui.scheduler.addEventListener('change', () => { ui.scheduler.dataset.touched = 'yes'; });
// The device choice is remembered: a person who picked WASM on a GPU that misbehaves keeps it.
const BACKEND_KEY = 'pocket-diffusion.backend';
const savedBackend = localStorage.getItem(BACKEND_KEY);
if (savedBackend && [...ui.backend.options].some((o) => o.value === savedBackend)) ui.backend.value = savedBackend;
ui.backend.addEventListener('change', () => {
  localStorage.setItem(BACKEND_KEY, ui.backend.value);
  void loadModel();
});
// Low-memory mode: remembered; on by default where the browser reports 4 GB of memory or less.
const LOW_MEMORY_KEY = 'pocket-diffusion.low-memory';
const deviceMemory = (navigator as { deviceMemory?: number }).deviceMemory;
ui.lowMemory.checked = (localStorage.getItem(LOW_MEMORY_KEY) ?? String(deviceMemory !== undefined && deviceMemory <= 4)) === 'true';
ui.lowMemory.addEventListener('change', () => {
  localStorage.setItem(LOW_MEMORY_KEY, String(ui.lowMemory.checked));
  void loadModel();
});
ui.seedMode.addEventListener('change', () => { ui.seed.readOnly = ui.seedMode.value === 'random'; });
for (const b of document.querySelectorAll<HTMLButtonElement>('[data-steps]')) {
  b.addEventListener('click', () => { ui.steps.value = b.dataset.steps!; ui.steps.dataset.touched = 'yes'; showEstimate(); });
}
for (const b of document.querySelectorAll<HTMLButtonElement>('[data-size]')) {
  b.addEventListener('click', () => {
    const [w, h] = b.dataset.size!.split('x');
    ui.width.value = w!;
    ui.height.value = h!;
    showEstimate();
  });
}
ui.steps.addEventListener('input', () => { ui.steps.dataset.touched = 'yes'; });
ui.guidance.addEventListener('input', () => { ui.guidance.dataset.touched = 'yes'; });
ui.model.addEventListener('change', () => {
  localStorage.setItem(ACTIVE_KEY, ui.model.value);
  void loadModel();
});

// A freshly added model becomes the active one.
const addPanel = new AddModelPanel(models, async (pack) => {
  clearError();
  localStorage.setItem(ACTIVE_KEY, pack.id);
  await loadModel();
});
setUpPwa();
void history.render();
void loadModel();
