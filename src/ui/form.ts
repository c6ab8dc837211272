// The form ↔ GenerateRequest: the controls, presets and size options from the pack's limits, an invalid
// field marked where it is (aria-invalid, its message beside it and linked by aria-describedby, focus on
// it), and the settings remembered across reloads (prefs.ts).
import { badRequest, PocketError } from '../core/errors';
import { randomSeed } from '../core/random';
import { SCHEDULERS, isSchedulerName } from '../core/schedulers';
import { MAX_REGIONS, objectCount, planRegions } from '../core/pipeline/regions';
import type { GenerateRequest, ImageLimits } from '../core/pipeline/request';
import type { PackDefaults } from '../worker/engine-api';
import { $ } from './dom';
import { prefs, type FormSettings } from './prefs';

type Field = 'prompt' | 'steps' | 'width' | 'height' | 'guidanceScale' | 'seed' | 'scheduler';

export class GenerateForm {
  readonly el = {
    form: $<HTMLFormElement>('controls'),
    tuning: $<HTMLDetailsElement>('tuning'),
    prompt: $<HTMLTextAreaElement>('prompt'),
    negative: $<HTMLInputElement>('negative'),
    steps: $<HTMLInputElement>('steps'),
    width: $<HTMLSelectElement>('width'),
    height: $<HTMLSelectElement>('height'),
    guidance: $<HTMLInputElement>('guidance'),
    seed: $<HTMLInputElement>('seed'),
    seedMode: $<HTMLSelectElement>('seed-mode'),
    scheduler: $<HTMLSelectElement>('scheduler'),
    twoPass: $<HTMLInputElement>('two-pass'),
    twoPassField: $<HTMLLabelElement>('two-pass-field'),
    regions: $<HTMLInputElement>('regions'),
    regionsField: $<HTMLLabelElement>('regions-field'),
    regionsObjects: $<HTMLSpanElement>('regions-objects'),
    regionsWhole: $<HTMLParagraphElement>('regions-whole'),
    regionsTag: $<HTMLButtonElement>('regions-tag'),
    schedulerHelp: $<HTMLParagraphElement>('scheduler-help'),
  };
  /** The picture size the person chose (this visit or one before), kept across packs: a pack that
   *  allows it shows it; one that does not (a fixed-size export) shows its own without forgetting it. */
  private chosenSize?: { readonly width: string; readonly height: string };

  constructor(private readonly onChange: () => void) {
    const e = this.el;
    for (const [name, s] of Object.entries(SCHEDULERS)) e.scheduler.add(new Option(s.label, name));
    // Folded on a phone, so that the prompt, Generate and the picture are the first screen.
    e.tuning.open = window.matchMedia('(min-width: 761px)').matches;
    e.prompt.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        e.form.requestSubmit();
      }
    });
    // (before the listeners below that save: a chosen width or height makes the picture size the person's)
    for (const el of [e.width, e.height]) for (const type of ['input', 'change']) el.addEventListener(type, () => this.chooseSize(e.width.value, e.height.value), { capture: true });
    for (const el of [e.steps, e.width, e.height, e.guidance]) el.addEventListener('input', () => this.changed());
    for (const el of [e.width, e.height, e.twoPass]) el.addEventListener('change', () => this.changed());
    for (const el of [e.prompt, e.negative, e.seed, e.seedMode]) el.addEventListener('input', () => this.save());
    // the choice shows where it matters: a prompt that names two or three objects (and the estimate counts them)
    e.prompt.addEventListener('input', () => {
      this.showRegions();
      this.onChange();
    });
    e.regions.addEventListener('change', () => {
      e.regions.dataset.touched = 'yes';
      this.showRegions();
      this.changed();
    });
    // the tag by the prompt opens the choice (folded under Settings on a phone)
    e.regionsTag.addEventListener('click', () => {
      e.tuning.open = true;
      const shown = e.regionsField.hidden ? e.regionsWhole : e.regionsField;
      shown.scrollIntoView({ block: 'center' });
      // (the note, where there is no choice: focused, so that it is read out)
      (e.regionsField.hidden ? e.regionsWhole : e.regions).focus();
    });
    e.scheduler.addEventListener('change', () => {
      e.scheduler.dataset.touched = 'yes';
      this.describeScheduler();
      this.save();
    });
    // (before the listeners above that save: a typed value counts as the person's)
    e.steps.addEventListener('input', () => { e.steps.dataset.touched = 'yes'; }, { capture: true });
    e.guidance.addEventListener('input', () => { e.guidance.dataset.touched = 'yes'; }, { capture: true });
    e.seedMode.addEventListener('change', () => {
      e.seed.readOnly = e.seedMode.value === 'random';
      this.save();
    });
    this.describeScheduler();
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-steps]')) {
      b.addEventListener('click', () => {
        e.steps.value = b.dataset.steps!;
        e.steps.dataset.touched = 'yes';
        this.changed();
      });
    }
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-size]')) {
      b.addEventListener('click', () => {
        const [w, h] = b.dataset.size!.split('x');
        e.width.value = w!;
        e.height.value = h!;
        this.chooseSize(w!, h!);
        this.changed();
      });
    }
    this.restore(prefs.settings());
  }

  private chooseSize(width: string, height: string): void {
    if (width && height) this.chosenSize = { width, height };
  }

  private changed(): void {
    this.save();
    this.onChange();
  }

  /** The settings as they stand, for the next visit. */
  save(): void {
    const e = this.el;
    // Steps, guidance, scheduler and size are kept only once the person set them: until then each model's
    // own defaults apply (SD-Turbo: 1 step, no guidance, Euler; the shapes pack: 256×256, the size it composes at).
    const touched = (el: HTMLElement) => (el.dataset.touched ? (el as HTMLInputElement).value : '');
    const s: FormSettings = {
      prompt: e.prompt.value, negative: e.negative.value, steps: touched(e.steps),
      size: this.chosenSize ? `${this.chosenSize.width}x${this.chosenSize.height}` : '',
      guidance: touched(e.guidance), seed: e.seed.value, seedMode: e.seedMode.value, scheduler: touched(e.scheduler),
      twoPass: e.twoPass.checked ? '' : 'off',
      regions: e.regions.dataset.touched ? (e.regions.checked ? 'on' : 'off') : '',
    };
    prefs.saveSettings(s);
  }

  private restore(s: Partial<FormSettings>): void {
    const e = this.el;
    if (s.prompt !== undefined) e.prompt.value = s.prompt;
    if (s.negative !== undefined) e.negative.value = s.negative;
    if (s.steps) {
      e.steps.value = s.steps;
      e.steps.dataset.touched = 'yes';
    }
    if (s.guidance) {
      e.guidance.value = s.guidance;
      e.guidance.dataset.touched = 'yes';
    }
    if (s.seed) e.seed.value = s.seed;
    if (s.seedMode && [...e.seedMode.options].some((o) => o.value === s.seedMode)) e.seedMode.value = s.seedMode;
    e.seed.readOnly = e.seedMode.value === 'random';
    if (s.scheduler && s.scheduler in SCHEDULERS) {
      e.scheduler.value = s.scheduler;
      e.scheduler.dataset.touched = 'yes';
    }
    this.describeScheduler();
    e.twoPass.checked = s.twoPass !== 'off';
    if (s.regions) {
      e.regions.checked = s.regions === 'on';
      e.regions.dataset.touched = 'yes';
    }
    this.showRegions();
    const size = /^(\d+)x(\d+)$/.exec(s.size ?? '');
    if (size) this.chooseSize(size[1]!, size[2]!);
  }

  /** Put a prompt in the prompt box (an example the model draws well), kept as if typed, the caret after it. */
  usePrompt(text: string): void {
    const e = this.el.prompt;
    e.value = text;
    this.clearErrors();
    this.save();
    this.showRegions();
    this.onChange();
    e.focus();
    e.setSelectionRange(text.length, text.length);
  }

  /** Fill in a request (a History entry's re-run). */
  fill(r: { prompt: string; negativePrompt: string; steps: number; width: number; height: number; guidanceScale: number; seed: number; scheduler: string; twoPass?: boolean; regions?: boolean }): void {
    const e = this.el;
    e.prompt.value = r.prompt;
    e.negative.value = r.negativePrompt;
    e.steps.value = String(r.steps);
    e.width.value = String(r.width);
    e.height.value = String(r.height);
    e.guidance.value = String(r.guidanceScale);
    e.seed.value = String(r.seed);
    e.seedMode.value = 'fixed';
    e.seed.readOnly = false;
    e.scheduler.value = r.scheduler;
    e.twoPass.checked = r.twoPass ?? true; // (entries saved before the choice existed: its default)
    // (the choice is the person's only where it mattered: the prompt names objects to draw apart)
    if (r.regions !== undefined && planRegions(r.prompt, r.seed)) {
      e.regions.checked = r.regions;
      e.regions.dataset.touched = 'yes';
    }
    this.showRegions();
    for (const el of [e.steps, e.guidance, e.scheduler]) el.dataset.touched = 'yes';
    this.describeScheduler();
    this.chooseSize(String(r.width), String(r.height));
    this.changed();
  }

  /** The chosen scheduler's one line of help, under the choice. */
  private describeScheduler(): void {
    const name = this.el.scheduler.value;
    this.el.schedulerHelp.textContent = isSchedulerName(name) ? `${SCHEDULERS[name].label}: ${SCHEDULERS[name].hint}` : '';
  }

  /** The size options a pack allows (one, for an export with a fixed latent size), and its defaults. */
  applyPack(limits: ImageLimits, defaults: PackDefaults): void {
    const e = this.el;
    if (!e.scheduler.dataset.touched) e.scheduler.value = defaults.scheduler;
    // the loaded model's own sampler is marked in the list (the shapes pack's DDIM, SD 1.5's PNDM, Turbo's Euler)
    for (const o of e.scheduler.options) {
      if (isSchedulerName(o.value)) o.text = SCHEDULERS[o.value].label + (o.value === defaults.scheduler ? ' · default' : '');
    }
    // the choice matters only to a pack that composes at a smaller size than it draws (main.ts shows it only
    // at sizes above that one)
    e.twoPassField.hidden = !limits.layout || !!limits.fixed;
    // drawn apart where the pack's makers measured it binds objects better (its image.regions), unless the person chose
    if (!e.regions.dataset.touched) e.regions.checked = limits.regions ?? false;
    this.showRegions();
    for (const select of [e.width, e.height]) {
      // the person's size where they chose one and the pack allows it, else the pack's own default
      const wanted = select === e.width ? this.chosenSize?.width : this.chosenSize?.height;
      select.replaceChildren();
      if (limits.fixed) {
        const v = String(select === e.width ? limits.fixed[0] : limits.fixed[1]);
        select.add(new Option(v, v));
      } else {
        for (let v = limits.minSize; v <= limits.maxSize; v += limits.multipleOf) select.add(new Option(String(v), String(v)));
      }
      const fallback = String(select === e.width ? defaults.width : defaults.height);
      select.value = [...select.options].some((o) => o.value === wanted) ? wanted! : fallback;
    }
    // A model's own defaults (SD-Turbo: 1 step, no guidance) unless the person set these.
    if (!e.steps.dataset.touched) e.steps.value = String(defaults.steps);
    if (!e.guidance.dataset.touched) e.guidance.value = String(defaults.guidanceScale);
    this.describeScheduler();
    for (const b of document.querySelectorAll<HTMLButtonElement>('[data-size]')) {
      const [w, h] = b.dataset.size!.split('x');
      const offered = (sel: HTMLSelectElement, v: string | undefined) => [...sel.options].some((o) => o.value === v);
      b.disabled = !(offered(e.width, w) && offered(e.height, h));
    }
  }

  /** The request the controls describe; an empty number field is refused here with a sentence. */
  read(): GenerateRequest {
    const e = this.el;
    if (e.seedMode.value === 'random') e.seed.value = String(randomSeed());
    const num = (el: HTMLInputElement | HTMLSelectElement, field: Field, what: string) => {
      if (el.value.trim() === '') throw badRequest(field, `${what} is empty: enter a number.`);
      return Number(el.value);
    };
    return {
      prompt: e.prompt.value,
      negativePrompt: e.negative.value,
      steps: num(e.steps, 'steps', 'Steps'),
      width: num(e.width, 'width', 'The width'),
      height: num(e.height, 'height', 'The height'),
      guidanceScale: num(e.guidance, 'guidanceScale', 'Guidance'),
      seed: num(e.seed, 'seed', 'The seed'),
      scheduler: e.scheduler.value,
      twoPass: e.twoPass.checked,
      regions: e.regions.checked,
    };
  }

  /** The choice to draw named objects apart, beside the prompt's objects, where the prompt names two or three. */
  private showRegions(): void {
    const e = this.el;
    // (where the objects name one place twice the prompt is drawn whole: no choice to offer)
    const parts = planRegions(e.prompt.value, 0);
    const count = objectCount(e.prompt.value);
    e.regionsField.hidden = !parts;
    // objects that cannot be drawn apart (too many, or two named in one place): the page says so, and why
    e.regionsWhole.hidden = !!parts || count < 2;
    e.regionsTag.hidden = !parts && count < 2;
    e.regionsTag.setAttribute('aria-describedby', parts ? 'regions-field' : 'regions-whole');
    const names = parts ? parts.map((r) => `“${r.object}”`) : [];
    e.regionsObjects.textContent = names.length ? `${names.slice(0, -1).join(', ')} and ${names.at(-1)}` : '';
    if (!parts && count >= 2) {
      e.regionsWhole.textContent = count > MAX_REGIONS
        ? `This prompt names ${count} objects. Up to ${MAX_REGIONS} can be drawn apart, so it is drawn as one picture, where their colours can mix: name ${MAX_REGIONS} or fewer to have each drawn apart, in its own colour.`
        : 'Two of this prompt’s objects are named in the same place, so it is drawn as one picture, where their colours can mix: give each its own place, or leave the places out.';
    }
    // on the prompt's row, where the person is looking: what will happen to the objects, and a way to change it
    if (parts) e.regionsTag.textContent = `${parts.length} objects: ${e.regions.checked ? 'drawn apart' : 'drawn together'}`;
    else if (count >= 2) e.regionsTag.textContent = `${count} objects: drawn together`;
  }

  /** The steps, size and guidance as typed, for the estimate (NaN where a field is empty). */
  shape(): { steps: number; width: number; height: number; guidance: number; twoPass: boolean; regions: number | undefined } {
    const e = this.el;
    const regions = e.regions.checked ? planRegions(e.prompt.value, 0)?.length : undefined;
    return { steps: Number(e.steps.value), width: Number(e.width.value), height: Number(e.height.value), guidance: Number(e.guidance.value), twoPass: e.twoPass.checked, regions };
  }

  private fieldFor(field: string): { input: HTMLElement; message: HTMLElement } | undefined {
    const e = this.el;
    const input = ({ steps: e.steps, width: e.width, height: e.height, guidanceScale: e.guidance, seed: e.seed, prompt: e.prompt, scheduler: e.scheduler } as Partial<Record<string, HTMLElement>>)[field];
    const message = input && document.getElementById(`${input.id}-error`);
    return input && message ? { input, message } : undefined;
  }

  /** A bad request is shown at its field (opened if folded); returns false when no field is named. */
  showError(err: PocketError): boolean {
    const field = err.detail?.field;
    const at = typeof field === 'string' ? this.fieldFor(field) : undefined;
    if (!at) return false;
    if (this.el.tuning.contains(at.input)) this.el.tuning.open = true;
    at.input.setAttribute('aria-invalid', 'true');
    at.message.textContent = err.message;
    at.message.hidden = false;
    at.input.focus();
    return true;
  }

  clearErrors(): void {
    for (const el of this.el.form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of this.el.form.querySelectorAll<HTMLElement>('.field-error')) {
      el.hidden = true;
      el.textContent = '';
    }
  }
}
