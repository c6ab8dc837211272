// The σ-space ("Karras") view of SD's schedule shared by Euler and Euler ancestral (DPM-Solver++
// builds its own σs: n + 1 points with the last dropped, and its own final σ).
import { alphasCumprod, interp, karrasSigmas, sigmaToTimestep, spacedTimesteps, trainSigmas } from './schedule';
import type { SchedulerConfig } from './types';

export interface SigmaSchedule {
  /** Model timesteps, descending (fractional for Karras sigmas and "linspace"). */
  readonly timesteps: number[];
  /** One σ per timestep, then the final σ (0). */
  readonly sigmas: number[];
}

/** diffusers' EulerDiscreteScheduler.set_timesteps: σ interpolated at the spaced timesteps. */
export function eulerSigmas(config: SchedulerConfig, n: number): SigmaSchedule {
  const train = trainSigmas(alphasCumprod(config));
  let timesteps = spacedTimesteps(config, n, false);
  let sigmas = timesteps.map((t) => interp(t, train));
  if (config.use_karras_sigmas) {
    const logSigmas = train.map(Math.log);
    sigmas = karrasSigmas(sigmas[0]!, sigmas[sigmas.length - 1]!, n);
    timesteps = sigmas.map((s) => sigmaToTimestep(s, logSigmas));
  }
  return { timesteps, sigmas: [...sigmas, 0] };
}

/** SD's initial noise scale in σ-space: σ_max, or sqrt(σ_max² + 1) for "leading" spacing (diffusers). */
export function sigmaInitNoise(config: SchedulerConfig, sigmas: readonly number[]): number {
  const max = Math.max(...sigmas);
  const spacing = config.timestep_spacing ?? 'leading';
  return spacing === 'linspace' || spacing === 'trailing' ? max : Math.sqrt(max * max + 1);
}

/** x_t / sqrt(σ² + 1): the VP-scaled input the ε-model was trained on (Karras et al. 2022, table 1). */
export function scaleBySigma(sample: Float32Array, sigma: number): Float32Array {
  const c = 1 / Math.sqrt(sigma * sigma + 1);
  return sample.map((x) => x * c);
}

/** x0 from the model output at noise level σ in σ-space (x = x0 + σ ε). */
export function sigmaX0(modelOutput: Float32Array, sample: Float32Array, sigma: number, config: SchedulerConfig): Float64Array {
  const x0 = new Float64Array(sample.length);
  const v = config.prediction_type === 'v_prediction';
  const s2 = sigma * sigma + 1;
  for (let i = 0; i < sample.length; i++) {
    x0[i] = v ? modelOutput[i]! * (-sigma / Math.sqrt(s2)) + sample[i]! / s2 : sample[i]! - sigma * modelOutput[i]!;
  }
  return x0;
}
