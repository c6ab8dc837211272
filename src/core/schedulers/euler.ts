// Euler's method on the probability-flow ODE in σ-space (Karras et al. 2022, "Elucidating the Design
// Space of Diffusion-Based Generative Models", algorithm 1 without churn), as diffusers'
// EulerDiscreteScheduler; optionally on Karras sigmas (eq. 5).
import { checkSameLength, checkSkip, checkSteps } from './schedule';
import { eulerSigmas, scaleBySigma, sigmaInitNoise, sigmaX0 } from './sigma-schedule';
import type { Scheduler, SchedulerOptions, StepResult } from './types';

export class EulerScheduler implements Scheduler {
  readonly stochastic: boolean = false;
  timesteps: number[] = [];
  initNoiseSigma = 1;
  protected sigmas: number[] = [];
  protected stepIndex = 0;
  /** The whole grid setTimesteps made, which beginAt cuts from (so a second beginAt does not cut twice). */
  private grid: { readonly timesteps: number[]; readonly sigmas: number[] } = { timesteps: [], sigmas: [] };

  constructor(protected readonly options: SchedulerOptions) {}

  setTimesteps(n: number): void {
    checkSteps(n, 'Euler');
    const s = eulerSigmas(this.options.config, n);
    this.timesteps = s.timesteps;
    this.sigmas = s.sigmas;
    this.grid = s;
    this.initNoiseSigma = sigmaInitNoise(this.options.config, s.sigmas);
    this.stepIndex = 0;
  }

  beginAt(skip: number): void {
    checkSkip(skip, this.grid.timesteps.length, 'Euler');
    this.timesteps = this.grid.timesteps.slice(skip);
    this.sigmas = this.grid.sigmas.slice(skip);
    this.stepIndex = 0;
  }

  /** x0 + σ ε: σ-space's forward process at the first σ left. */
  addNoise(original: Float32Array, noise: Float32Array): Float32Array {
    checkSameLength(original, noise);
    const sigma = this.sigmas[this.stepIndex]!;
    return original.map((x, i) => x + sigma * noise[i]!);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return scaleBySigma(sample, this.sigmas[this.stepIndex]!);
  }

  step(modelOutput: Float32Array, _t: number, sample: Float32Array): StepResult {
    const sigma = this.sigmas[this.stepIndex]!;
    const next = this.sigmas[this.stepIndex + 1]!;
    const x0 = sigmaX0(modelOutput, sample, sigma, this.options.config);
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const d = (sample[i]! - x0[i]!) / sigma; // dx/dσ, eq. 3
      prev[i] = sample[i]! + d * (next - sigma);
    }
    this.stepIndex++;
    return { prevSample: prev, predOriginalSample: Float32Array.from(x0) };
  }
}
