// Every sampler against diffusers (../shared/fixtures/schedulers.json), plus the contract they share.
import { describe, expect, it } from 'vitest';
import { createScheduler, SCHEDULERS, type SchedulerConfig, type SchedulerName } from '../../src/core/schedulers';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { readShared, REPO } from '../shared';

interface Case {
  scheduler: string;
  class: string;
  config: SchedulerConfig;
  step_kwargs: { eta?: number };
  num_inference_steps: number;
  timesteps: number[];
  init_noise_sigma: number;
  trace: { t: number; sum: number; abs_sum: number; first4: number[] }[];
  final_sample: number[];
}

const fixtures: { cases: Case[] } = JSON.parse(readShared('fixtures/schedulers.json'));
const BY_CLASS: Record<string, SchedulerName> = {
  PNDMScheduler: 'pndm', DDIMScheduler: 'ddim', EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-ancestral', DPMSolverMultistepScheduler: 'dpmpp-2m', LCMScheduler: 'lcm',
};
const N = 256;
const initSample = Float32Array.from({ length: N }, (_, i) => Math.sin(0.37 * i) * 1.3);
const stepNoise = (k: number) => Float32Array.from({ length: N }, (_, i) => Math.cos(0.11 * i + 0.7 * k));
const fakeModel = (x: Float32Array, t: number) => x.map((v) => 0.3 * v + 0.1 * Math.cos(t / 100));

function run(name: SchedulerName, config: SchedulerConfig, steps: number, eta?: number) {
  const s = createScheduler(name, config, eta === undefined ? {} : { eta });
  s.setTimesteps(steps);
  let x: Float32Array = initSample.map((v) => v * s.initNoiseSigma);
  const trace: number[] = [];
  s.timesteps.forEach((t, k) => {
    const eps = fakeModel(s.scaleModelInput(x, t), t);
    x = s.step(eps, t, x, { noise: stepNoise(k) }).prevSample;
    trace.push(x.reduce((a, b) => a + b, 0));
  });
  return { s, x, trace };
}

describe.each(fixtures.cases.map((c) => [`${c.scheduler} × ${c.num_inference_steps}`, c] as const))('%s matches diffusers', (_, c) => {
  const name = BY_CLASS[c.class]!;
  const { s, x, trace } = run(name, c.config, c.num_inference_steps, c.step_kwargs.eta);

  it('timesteps', () => {
    expect(s.timesteps.length).toBe(c.timesteps.length);
    if (c.timesteps.every(Number.isInteger)) {
      expect(s.timesteps).toEqual(c.timesteps);
    } else {
      // Fractional timesteps (Karras σ mapped back to t through log σ) come from float32 arithmetic in
      // diffusers and float64 here: equal to a thousandth of a training step.
      s.timesteps.forEach((t, i) => expect(Math.abs(t - c.timesteps[i]!)).toBeLessThanOrEqual(1e-3));
    }
  });

  it('initial noise sigma', () => {
    expect(s.initNoiseSigma).toBeCloseTo(c.init_noise_sigma, 4);
  });

  it('samples along the way and at the end (1e-4 relative)', () => {
    trace.forEach((sum, k) => {
      const ref = c.trace[k]!;
      expect(Math.abs(sum - ref.sum), `step ${k}`).toBeLessThanOrEqual(1e-4 * Math.max(1, ref.abs_sum));
    });
    const scale = Math.max(...c.final_sample.map(Math.abs));
    const err = Math.max(...c.final_sample.map((v, i) => Math.abs(v - x[i]!)));
    expect(err / scale).toBeLessThan(1e-4);
  });
});

const SD15: SchedulerConfig = {
  num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
  prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 1, set_alpha_to_one: false,
};

describe.each(Object.keys(SCHEDULERS) as SchedulerName[])('%s keeps the scheduler contract', (name) => {
  it('setTimesteps resets all hidden state', () => {
    const a = run(name, SD15, 8);
    const s = a.s;
    s.setTimesteps(8);
    let x: Float32Array = initSample.map((v) => v * s.initNoiseSigma);
    s.timesteps.forEach((t, k) => {
      x = s.step(fakeModel(s.scaleModelInput(x, t), t), t, x, { noise: stepNoise(k) }).prevSample;
    });
    expect(Array.from(x)).toEqual(Array.from(a.x));
  });

  it.each([1, 4, 20, 50])('gives descending timesteps in range for %i steps', (n) => {
    const s = createScheduler(name, SD15);
    s.setTimesteps(n);
    expect(s.timesteps.length).toBe(name === 'pndm' && n > 1 ? n + 1 : n);
    for (let i = 1; i < s.timesteps.length; i++) expect(s.timesteps[i]!).toBeLessThanOrEqual(s.timesteps[i - 1]!);
    expect(Math.min(...s.timesteps)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...s.timesteps)).toBeLessThanOrEqual(999);
  });

  it('denoises: with a perfect ε-model it lands on the clean sample', () => {
    // x_T = sqrt(ᾱ) x0 + sqrt(1-ᾱ) ε with a known ε: an oracle model returns that ε at every step
    // (σ-space samplers see x = x0 + σ ε, the same ε).
    const s = createScheduler(name, SD15, { noise: (len) => new Float32Array(len) });
    s.setTimesteps(20);
    const x0 = initSample.map((v) => Math.tanh(v));
    const eps = stepNoise(3);
    let x: Float32Array = eps.map((e, i) => x0[i]! * (s.initNoiseSigma > 1 ? 1 : 0.068) + e * s.initNoiseSigma);
    for (const t of s.timesteps) {
      const xin = s.scaleModelInput(x, t);
      // ε that is consistent with the current x and the clean x0, whatever the parametrisation
      const e = oracleEps(xin, x0, t);
      x = s.step(e, t, x).prevSample;
    }
    const err = Math.max(...x.map((v, i) => Math.abs(v - x0[i]!)));
    expect(err).toBeLessThan(0.05);
  });

  it('gives an x̂0 estimate (what the live preview shows) that is the clean sample under a perfect model', () => {
    const s = createScheduler(name, SD15, { noise: (len) => new Float32Array(len) });
    s.setTimesteps(20);
    const x0 = initSample.map((v) => Math.tanh(v));
    const t = s.timesteps[0]!;
    const x: Float32Array = stepNoise(3).map((e, i) => x0[i]! * (s.initNoiseSigma > 1 ? 1 : Math.sqrt(abarAt(t))) + e * (s.initNoiseSigma > 1 ? s.initNoiseSigma : Math.sqrt(1 - abarAt(t))));
    const out = s.step(oracleEps(s.scaleModelInput(x, t), x0, t), t, x);
    expect(out.predOriginalSample).toBeDefined();
    expect(Math.max(...out.predOriginalSample!.map((v, i) => Math.abs(v - x0[i]!)))).toBeLessThan(1e-3);
  });

  it('beginAt keeps the rest of the grid (image-to-image\'s start)', () => {
    const full = createScheduler(name, SD15);
    full.setTimesteps(20);
    const s = createScheduler(name, SD15);
    s.setTimesteps(20);
    s.beginAt(12);
    if (name === 'pndm') {
      // PLMS over the grid's last 8 steps, its second timestep repeated (the extra call it starts with)
      const grid = [...new Set(full.timesteps)].slice(12);
      expect(s.timesteps).toEqual([grid[0], grid[1], ...grid.slice(1)]);
    } else {
      expect(s.timesteps).toEqual(full.timesteps.slice(12));
    }
    expect(() => s.beginAt(20)).toThrow(RangeError);
    // cut from the whole grid each time: a second beginAt does not cut twice
    const once = [...s.timesteps];
    s.beginAt(12);
    expect(s.timesteps).toEqual(once);
  });

  it('addNoise takes x0 to the level of the first step left: its x̂0 under the true ε is x0', () => {
    const s = createScheduler(name, SD15, { noise: (len) => new Float32Array(len) });
    s.setTimesteps(20);
    s.beginAt(12);
    const x0 = initSample.map((v) => Math.tanh(v));
    const eps = stepNoise(3);
    const x = s.addNoise(x0, eps);
    const t = s.timesteps[0]!;
    // the model is handed the noise that was added: x̂0 is x0 only if x is at t's noise level
    const out = s.step(eps, t, x);
    expect(Math.max(...out.predOriginalSample!.map((v, i) => Math.abs(v - x0[i]!)))).toBeLessThan(1e-3);
    expect(() => s.addNoise(x0, eps.subarray(1))).toThrow(/noise has/);
  });

  it.skipIf(SCHEDULERS[name].make({ config: SD15 }).stochastic)('image-to-image lands on x0 when the model knows the noise', () => {
    // From addNoise(x0, ε) at step 12 of 20, a model that answers ε at every step: each step must
    // hand the next one a sample at that step's level, or x̂0 drifts from x0.
    const s = createScheduler(name, SD15);
    s.setTimesteps(20);
    s.beginAt(12);
    const x0 = initSample.map((v) => Math.tanh(v));
    const eps = stepNoise(3);
    let x = s.addNoise(x0, eps);
    for (const t of s.timesteps) x = s.step(eps, t, x).prevSample;
    // DDIM and PNDM end at ᾱ_0 (set_alpha_to_one false): sqrt(1 − ᾱ_0) ≈ 0.03 of ε is left
    expect(Math.max(...x.map((v, i) => Math.abs(v - x0[i]!)))).toBeLessThan(0.035);
  });

  it('refuses nonsense step counts', () => {
    const s = createScheduler(name, SD15);
    expect(() => s.setTimesteps(0)).toThrow(RangeError);
    expect(() => s.setTimesteps(2.5)).toThrow(RangeError);
  });
});

/** The ε that maps the model input x_t (VP-scaled) at timestep t back to x0 exactly. */
function oracleEps(xin: Float32Array, x0: Float32Array, t: number): Float32Array {
  const abar = abarAt(t);
  return xin.map((v, i) => (v - Math.sqrt(abar) * x0[i]!) / Math.sqrt(1 - abar));
}

function abarAt(t: number): number {
  let prod = 1;
  const lo = Math.sqrt(0.00085);
  const hi = Math.sqrt(0.012);
  const table: number[] = [];
  for (let i = 0; i < 1000; i++) {
    prod *= 1 - (lo + (i / 999) * (hi - lo)) ** 2;
    table.push(prod);
  }
  // σ-space samplers pass fractional t: interpolate σ as they do
  const sig = table.map((a) => Math.sqrt((1 - a) / a));
  const i = Math.min(998, Math.floor(t));
  const w = t - i;
  const sigma = sig[i]! * (1 - w) + sig[i + 1]! * w;
  return 1 / (1 + sigma * sigma);
}

describe('stochastic schedulers', () => {
  it.each(['euler-ancestral', 'lcm'] as const)('%s draws from the injected noise source', (name) => {
    const draws: number[] = [];
    const s = createScheduler(name, SD15, { noise: (len) => { draws.push(len); return stepNoise(draws.length); } });
    s.setTimesteps(4);
    let x: Float32Array = initSample.map((v) => v * s.initNoiseSigma);
    for (const t of s.timesteps) x = s.step(fakeModel(s.scaleModelInput(x, t), t), t, x).prevSample;
    expect(draws.length).toBeGreaterThanOrEqual(3);
    expect(draws.every((l) => l === N)).toBe(true);
  });

  it('DDIM with η > 0 without noise says what is missing', () => {
    const s = createScheduler('ddim', SD15, { eta: 1 });
    s.setTimesteps(4);
    const t = s.timesteps[0]!;
    expect(() => s.step(initSample, t, initSample)).toThrow(/noise/);
  });
});

// diffusers computes timesteps with numpy, whose round goes half to even; ../shared/fixtures/timesteps.json
// holds its figures for the "linspace" and "trailing" spacings (the SD 1.5 cases above are "leading").
interface TimestepCase { class: string; timestep_spacing: 'linspace' | 'trailing'; num_inference_steps: number; timesteps: number[] }
const timestepCases: TimestepCase[] = JSON.parse(readShared('fixtures/timesteps.json')).cases;
const TIMESTEP_CLASS: [RegExp, SchedulerName][] = [[/^DDIMScheduler/, 'ddim'], [/^EulerDiscreteScheduler/, 'euler'], [/^DPMSolverMultistepScheduler/, 'dpmpp-2m']];
const SD15_SCHEDULE: SchedulerConfig = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', steps_offset: 1 };

describe('timesteps round like numpy (half to even), as diffusers computes them', () => {
  it.each(timestepCases.map((c) => [`${c.class.split(' ')[0]} ${c.timestep_spacing} × ${c.num_inference_steps}`, c] as const))('%s', (_, c) => {
    const name = TIMESTEP_CLASS.find(([re]) => re.test(c.class))![1];
    const s = createScheduler(name, { ...SD15_SCHEDULE, timestep_spacing: c.timestep_spacing });
    s.setTimesteps(c.num_inference_steps);
    expect(s.timesteps.length).toBe(c.timesteps.length);
    // Integer timesteps exactly; Euler's fractional "linspace" ones were float32 in diffusers.
    s.timesteps.forEach((t, i) => expect(Math.abs(t - c.timesteps[i]!)).toBeLessThanOrEqual(Number.isInteger(c.timesteps[i]) ? 0 : 1e-4));
  });

  // Every step count from 1 to 100, computed by the recipe with numpy (training/shapes/fixtures.py).
  const numpyCases: { scheduler: SchedulerName; timestep_spacing: 'linspace' | 'trailing'; num_inference_steps: number; timesteps: number[] }[] =
    JSON.parse(readFileSync(resolve(REPO, 'test/fixtures/packs/timesteps-numpy.json'), 'utf8')).cases;
  it('every step count from 1 to 100, both spacings, as numpy gives them', () => {
    const wrong: string[] = [];
    for (const c of numpyCases) {
      const s = createScheduler(c.scheduler, { ...SD15_SCHEDULE, timestep_spacing: c.timestep_spacing });
      s.setTimesteps(c.num_inference_steps);
      const ok = s.timesteps.length === c.timesteps.length && s.timesteps.every((t, i) => Math.abs(t - c.timesteps[i]!) <= (Number.isInteger(c.timesteps[i]) ? 0 : 1e-9));
      if (!ok) wrong.push(`${c.scheduler} ${c.timestep_spacing} × ${c.num_inference_steps}`);
    }
    expect(numpyCases.length).toBe(600);
    expect(wrong).toEqual([]);
  });

  it('the cases the issue names: linspace at 7 steps, trailing at 16 (SD-Turbo\'s spacing)', () => {
    const at = (spacing: 'linspace' | 'trailing', n: number) => {
      const s = createScheduler('ddim', { ...SD15_SCHEDULE, timestep_spacing: spacing });
      s.setTimesteps(n);
      return s.timesteps;
    };
    expect(at('linspace', 7)).toEqual([999, 832, 666, 500, 333, 166, 0]);
    expect(at('trailing', 16).filter((t) => t % 250 === 61 || t % 250 === 62)).toEqual([811, 561, 311, 61]);
  });
});

// v-prediction (SD 2.x 768-v): the model predicts v = sqrt(ᾱ) ε − sqrt(1 − ᾱ) x0 (Salimans & Ho 2022), so
// x0 = sqrt(ᾱ) x_t − sqrt(1 − ᾱ) v and ε = sqrt(ᾱ) v + sqrt(1 − ᾱ) x_t — diffusers' DDIMScheduler.step
// and EulerDiscreteScheduler.step formulas, restated here for one step.
describe('v-prediction', () => {
  const V: SchedulerConfig = { ...SD15_SCHEDULE, timestep_spacing: 'leading', set_alpha_to_one: false, prediction_type: 'v_prediction' };
  const abar = (() => {
    const out: number[] = [];
    let p = 1;
    for (let i = 0; i < 1000; i++) {
      const b = (Math.sqrt(0.00085) + (i / 999) * (Math.sqrt(0.012) - Math.sqrt(0.00085))) ** 2;
      p *= 1 - b;
      out.push(p);
    }
    return out;
  })();
  const x = initSample;
  const v = x.map((s, i) => 0.2 * s + 0.05 * Math.cos(i));

  it('DDIM: one step from t to the previous timestep', () => {
    const s = createScheduler('ddim', V);
    s.setTimesteps(4);
    const [t, prev] = [s.timesteps[0]!, s.timesteps[1]!];
    const [a, ap] = [abar[t]!, abar[prev]!];
    const out = s.step(v, t, x).prevSample;
    x.forEach((xi, i) => {
      const x0 = Math.sqrt(a) * xi - Math.sqrt(1 - a) * v[i]!;
      const eps = Math.sqrt(a) * v[i]! + Math.sqrt(1 - a) * xi;
      expect(out[i]!).toBeCloseTo(Math.sqrt(ap) * x0 + Math.sqrt(1 - ap) * eps, 4);
    });
  });

  it('Euler: x0 = v · (−σ / sqrt(σ² + 1)) + x / (σ² + 1), then an Euler step in σ', () => {
    const s = createScheduler('euler', { ...V, timestep_spacing: 'trailing' });
    s.setTimesteps(4);
    const t = s.timesteps[0]!;
    const sigma = Math.sqrt((1 - abar[t]!) / abar[t]!);
    const s1 = createScheduler('euler', { ...V, timestep_spacing: 'trailing' });
    s1.setTimesteps(4);
    const next = s1.timesteps[1]!;
    const sigmaNext = Math.sqrt((1 - abar[next]!) / abar[next]!);
    const out = s.step(v, t, x).prevSample;
    x.forEach((xi, i) => {
      const x0 = v[i]! * (-sigma / Math.sqrt(sigma * sigma + 1)) + xi / (sigma * sigma + 1);
      const d = (xi - x0) / sigma;
      expect(out[i]!).toBeCloseTo(xi + d * (sigmaNext - sigma), 4);
    });
  });
});
