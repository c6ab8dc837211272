// What the page remembers in localStorage, typed in one place: the last settings of the form, the chosen
// model, device and memory mode, and this device's cost model per pack and backend (each finished run is
// folded in). History and the last picture live in IndexedDB (history.ts, result.ts).
import { foldRun, type CostModel, type measuredRun } from '../core/estimate';

/** The form as the person left it (field values as typed). */
export interface FormSettings {
  readonly prompt: string;
  readonly negative: string;
  readonly steps: string;
  /** "WIDTHxHEIGHT" once the person chose a size, else '' (each model's own default applies). Stored
   *  under its own name: the width and height saved before were saved whether chosen or not. */
  readonly size: string;
  readonly guidance: string;
  readonly seed: string;
  readonly seedMode: string;
  readonly scheduler: string;
  /** 'off' once the person turned two-pass pictures off, else '' (on). */
  readonly twoPass?: string;
  /** 'on' / 'off' once the person chose whether named objects are drawn apart (regional prompts), else ''
   *  (each model's own choice). */
  readonly regions?: string;
}

const KEY = {
  settings: 'pocket-diffusion.settings',
  model: 'pocket-diffusion.model',
  backend: 'pocket-diffusion.backend',
  lowMemory: 'pocket-diffusion.low-memory',
  cost: (packId: string, backend: string) => `pocket-diffusion.cost.${packId}.${backend}`,
};

/** A full or blocked localStorage loses the preference, never the page's work. */
function write(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // nothing to do: the next visit starts from the defaults
  }
}

function readJson(key: string): unknown {
  try {
    return JSON.parse(localStorage.getItem(key) ?? 'null');
  } catch {
    return null;
  }
}

export const prefs = {
  settings(): Partial<FormSettings> {
    const v = readJson(KEY.settings);
    if (!v || typeof v !== 'object') return {};
    return Object.fromEntries(Object.entries(v).filter(([, x]) => typeof x === 'string'));
  },
  saveSettings(s: FormSettings): void {
    write(KEY.settings, JSON.stringify(s));
  },
  /** A stored pack's id, or null for the built-in one. */
  activeModel(): string | null {
    return localStorage.getItem(KEY.model);
  },
  setActiveModel(id: string | null): void {
    if (id === null) localStorage.removeItem(KEY.model);
    else write(KEY.model, id);
  },
  backend(): string | null {
    return localStorage.getItem(KEY.backend);
  },
  setBackend(v: string): void {
    write(KEY.backend, v);
  },
  /** The person's choice, or undefined when they never made one. */
  lowMemory(): boolean | undefined {
    const v = localStorage.getItem(KEY.lowMemory);
    return v === null ? undefined : v === 'true';
  },
  setLowMemory(v: boolean): void {
    write(KEY.lowMemory, String(v));
  },
  costs(packId: string, backend: string): CostModel | undefined {
    const v = readJson(KEY.cost(packId, backend)) as CostModel | null;
    return v && v.unetMsPerKiloLatent > 0 ? v : undefined;
  },
  /** Fold one finished run into the device's cost model (`measuredRun`); returns the model as it now is. */
  recordRun(packId: string, backend: string, m: ReturnType<typeof measuredRun>): CostModel {
    const costs = foldRun(prefs.costs(packId, backend), m.run, m.unetAndSchedulerMs, m.vaeMs, m.totalMs);
    write(KEY.cost(packId, backend), JSON.stringify(costs));
    return costs;
  },
};
