// Latent Consistency Model multistep sampling (Luo et al. 2023, "Latent Consistency Models",
// algorithm 1), as diffusers' LCMScheduler: a consistency function c_skip x + c_out x0 per step,
// re-noised to the next timestep with fresh noise.
import { checkSkip, discreteSchedule, checkSteps, noiseTo, predictX0AndEps, stepNoise } from './schedule';
import type { Scheduler, SchedulerOptions, StepOptions, StepResult } from './types';

const SIGMA_DATA = 0.5;

export class LcmScheduler implements Scheduler {
  readonly initNoiseSigma = 1;
  readonly stochastic = true;
  timesteps: number[] = [];
  private readonly abar: Float64Array;
  private readonly finalAlphaCumprod: number;
  private stepIndex = 0;
  private grid: number[] = [];

  constructor(private readonly options: SchedulerOptions) {
    ({ abar: this.abar, finalAlphaCumprod: this.finalAlphaCumprod } = discreteSchedule(options.config));
  }

  setTimesteps(n: number): void {
    checkSteps(n, 'LCM');
    const T = this.options.config.num_train_timesteps;
    const original = this.options.config.original_inference_steps ?? 50;
    const k = Math.floor(T / original);
    // The distillation's skipping-step grid: k−1, 2k−1, ..., T−1; n points picked evenly from its top.
    const origin = Array.from({ length: original }, (_, i) => (i + 1) * k - 1).reverse();
    if (n > original) throw new RangeError(`LCM: at most ${original} steps (the distillation's schedule), got ${n}`);
    this.timesteps = Array.from({ length: n }, (_, i) => origin[Math.floor((i * original) / n)]!);
    this.grid = this.timesteps;
    this.stepIndex = 0;
  }

  /** The n-step grid's tail, as the other samplers. (diffusers' LCM image-to-image instead fits all n steps
   *  below the strength's timestep, `set_timesteps(n, strength=…)`: the same start, finer steps. At 20 steps the
   *  8-step tail, 399 … 59, is exactly `set_timesteps(8, strength=0.4)`; at 4 steps the 2-step tail is 499, 259
   *  where `set_timesteps(2, strength=0.4)` gives 399, 199.) */
  beginAt(skip: number): void {
    checkSkip(skip, this.grid.length, 'LCM');
    this.timesteps = this.grid.slice(skip);
    this.stepIndex = 0;
  }

  addNoise(original: Float32Array, noise: Float32Array): Float32Array {
    return noiseTo(original, noise, this.abar[this.timesteps[0]!]!);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, options?: StepOptions): StepResult {
    const i = this.stepIndex;
    const prevT = i + 1 < this.timesteps.length ? this.timesteps[i + 1]! : t;
    const aT = this.abar[t]!;
    const aPrev = prevT >= 0 ? this.abar[prevT]! : this.finalAlphaCumprod;
    // Boundary-condition scalings (eq. 9) at the scaled timestep
    const st = t * (this.options.config.timestep_scaling ?? 10);
    const cSkip = SIGMA_DATA ** 2 / (st * st + SIGMA_DATA ** 2);
    const cOut = st / Math.sqrt(st * st + SIGMA_DATA ** 2);
    const { x0 } = predictX0AndEps(modelOutput, sample, Math.sqrt(aT), Math.sqrt(1 - aT), this.options.config.prediction_type);
    const denoised = new Float32Array(sample.length);
    for (let j = 0; j < sample.length; j++) denoised[j] = cOut * x0[j]! + cSkip * sample[j]!;
    this.stepIndex++;
    if (i === this.timesteps.length - 1) return { prevSample: denoised, predOriginalSample: denoised };
    const noise = stepNoise(sample.length, options, this.options.noise, 'LCM');
    const prev = new Float32Array(sample.length);
    for (let j = 0; j < sample.length; j++) prev[j] = Math.sqrt(aPrev) * denoised[j]! + Math.sqrt(1 - aPrev) * noise[j]!;
    return { prevSample: prev, predOriginalSample: denoised };
  }
}
