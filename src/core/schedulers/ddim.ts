// DDIM (Song, Meng & Ermon 2021, "Denoising Diffusion Implicit Models"), as diffusers' DDIMScheduler.
import { checkSkip, discreteSchedule, checkSteps, noiseTo, predictX0AndEps, spacedTimesteps, stepNoise } from './schedule';
import type { Scheduler, SchedulerOptions, StepOptions, StepResult } from './types';

export class DdimScheduler implements Scheduler {
  readonly initNoiseSigma = 1;
  timesteps: number[] = [];
  private readonly abar: Float64Array;
  private readonly finalAlphaCumprod: number;
  private numInferenceSteps = 0;

  constructor(private readonly options: SchedulerOptions) {
    ({ abar: this.abar, finalAlphaCumprod: this.finalAlphaCumprod } = discreteSchedule(options.config));
  }

  get stochastic(): boolean {
    return (this.options.eta ?? 0) > 0;
  }

  setTimesteps(n: number): void {
    checkSteps(n, 'DDIM');
    this.numInferenceSteps = n;
    this.timesteps = spacedTimesteps(this.options.config, n, true);
  }

  beginAt(skip: number): void {
    checkSkip(skip, this.numInferenceSteps, 'DDIM');
    // each step goes to t − T/n, whichever step it starts from
    this.timesteps = spacedTimesteps(this.options.config, this.numInferenceSteps, true).slice(skip);
  }

  addNoise(original: Float32Array, noise: Float32Array): Float32Array {
    return noiseTo(original, noise, this.abar[this.timesteps[0]!]!);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, t: number, sample: Float32Array, stepOptions?: StepOptions): StepResult {
    const eta = this.options.eta ?? 0;
    const prevT = t - Math.floor(this.options.config.num_train_timesteps / this.numInferenceSteps);
    const aT = this.abar[t]!;
    const aPrev = prevT >= 0 ? this.abar[prevT]! : this.finalAlphaCumprod;
    // 1. x0 and ε from the model output (eq. 12's "predicted x0")
    const { x0, eps } = predictX0AndEps(modelOutput, sample, Math.sqrt(aT), Math.sqrt(1 - aT), this.options.config.prediction_type);
    // 2. σ_t(η) of eq. 16
    const variance = ((1 - aPrev) / (1 - aT)) * (1 - aT / aPrev);
    const std = eta * Math.sqrt(variance);
    const noise = eta > 0 ? stepNoise(sample.length, stepOptions, this.options.noise, 'DDIM with η > 0') : undefined;
    // 3. eq. 12: x_{t−1} = sqrt(ᾱ_{t−1}) x0 + sqrt(1 − ᾱ_{t−1} − σ²) ε + σ z
    const dir = Math.sqrt(1 - aPrev - std * std);
    const prev = new Float32Array(sample.length);
    const pred = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      prev[i] = Math.sqrt(aPrev) * x0[i]! + dir * eps[i]! + (noise ? std * noise[i]! : 0);
      pred[i] = x0[i]!;
    }
    return { prevSample: prev, predOriginalSample: pred };
  }
}
