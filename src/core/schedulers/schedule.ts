// The noise schedule and timestep/sigma helpers shared by every scheduler, following diffusers
// (schedulers/scheduling_*.py). Computed in float64; samples are stored as float32.
import type { NoiseSource, SchedulerConfig, StepOptions } from './types';

/** ᾱ_t = ∏ (1 − β_s) for t = 0..T−1 (Ho et al. 2020, eq. 4's notation). */
export function alphasCumprod(config: SchedulerConfig): Float64Array {
  const n = config.num_train_timesteps;
  const out = new Float64Array(n);
  let prod = 1;
  for (let i = 0; i < n; i++) {
    const f = n === 1 ? 0 : i / (n - 1);
    const beta = config.beta_schedule === 'scaled_linear'
      ? (Math.sqrt(config.beta_start) + f * (Math.sqrt(config.beta_end) - Math.sqrt(config.beta_start))) ** 2
      : config.beta_start + f * (config.beta_end - config.beta_start);
    prod *= 1 - beta;
    out[i] = prod;
  }
  return out;
}

/** ᾱ for the discrete-time samplers, and the ᾱ they step to past t = 0 (1, or ᾱ_0: `set_alpha_to_one`). */
export function discreteSchedule(config: SchedulerConfig): { abar: Float64Array; finalAlphaCumprod: number } {
  const abar = alphasCumprod(config);
  return { abar, finalAlphaCumprod: config.set_alpha_to_one ? 1 : abar[0]! };
}

/** σ_t = sqrt((1 − ᾱ_t) / ᾱ_t): the noise level of x_t / sqrt(ᾱ_t) (Karras et al. 2022, sec. 2). */
export function trainSigmas(abar: Float64Array): Float64Array {
  return abar.map((a) => Math.sqrt((1 - a) / a));
}

/**
 * Descending integer-grid timesteps for DDIM/PNDM/Euler by `timestep_spacing` (Lin et al. 2024,
 * "Common diffusion noise schedules and sample steps are flawed", table 2): "leading" as SD 1.5
 * shipped it, "linspace" (may be fractional), "trailing".
 */
export function spacedTimesteps(config: SchedulerConfig, n: number, round: boolean): number[] {
  const T = config.num_train_timesteps;
  const spacing = config.timestep_spacing ?? 'leading';
  let ts: number[];
  if (spacing === 'linspace') {
    ts = linspace(0, T - 1, n).reverse();
    if (round) ts = ts.map(roundHalfEven);
  } else if (spacing === 'leading') {
    const ratio = Math.floor(T / n);
    ts = Array.from({ length: n }, (_, i) => i * ratio + (config.steps_offset ?? 0)).reverse();
  } else {
    ts = trailingTimesteps(T, n);
  }
  return ts;
}

/**
 * numpy's round: halves go to the even neighbour (`np.round(812.5) == 812`), where JavaScript's
 * Math.round goes up. diffusers computes its timesteps with numpy, so this decides several of them
 * (linspace at 7 steps: 832 and 166; trailing at 16: 811, 561, 311, 61).
 */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** diffusers' "trailing" spacing: np.round(np.arange(T, 0, -T / n)) - 1 (SD-Turbo's). */
export function trailingTimesteps(T: number, n: number): number[] {
  return arange(T, 0, -T / n).map((t) => roundHalfEven(t) - 1);
}

/**
 * numpy.arange(start, stop, step) as numpy computes it: ceil((stop − start) / step) points, the i-th
 * start + i · d with d = (start + step) − start. A running test against `stop` instead lets rounding
 * leftovers through (an extra timestep of −1 at 19 steps, 937 for numpy's 936 at 48).
 */
export function arange(start: number, stop: number, step: number): number[] {
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const d = start + step - start;
  return Array.from({ length: n }, (_, i) => (i === 0 ? start : start + i * d));
}

/** numpy.linspace, computed as numpy does (start + i · step, the last point exactly `end`), so that
 * halves land where numpy's do before they are rounded (999 / 30 · 15 is 499.4999…, not 499.5). */
export function linspace(start: number, end: number, n: number): number[] {
  if (n === 1) return [start];
  const step = (end - start) / (n - 1);
  return Array.from({ length: n }, (_, i) => (i === n - 1 ? end : start + i * step));
}

/** numpy.interp of `table` (sampled at 0, 1, 2, ...) at fractional position x. */
export function interp(x: number, table: ArrayLike<number>): number {
  if (x <= 0) return table[0]!;
  const last = table.length - 1;
  if (x >= last) return table[last]!;
  const i = Math.floor(x);
  const w = x - i;
  return table[i]! * (1 - w) + table[i + 1]! * w;
}

/** Karras et al. 2022, eq. 5: n sigmas from sigmaMax to sigmaMin, evenly spaced in σ^(1/ρ), ρ = 7. */
export function karrasSigmas(sigmaMax: number, sigmaMin: number, n: number): number[] {
  const rho = 7;
  const maxInv = sigmaMax ** (1 / rho);
  const minInv = sigmaMin ** (1 / rho);
  return linspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho);
}

/** The fractional training timestep whose σ is `sigma` (interpolating log σ, as diffusers does). */
export function sigmaToTimestep(sigma: number, logSigmas: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  let low = 0;
  for (let i = 0; i < logSigmas.length; i++) if (logSigma - logSigmas[i]! >= 0) low = i;
  low = Math.min(low, logSigmas.length - 2);
  const lo = logSigmas[low]!;
  const hi = logSigmas[low + 1]!;
  const w = Math.min(1, Math.max(0, (lo - logSigma) / (lo - hi)));
  return (1 - w) * low + w * (low + 1);
}

/** The noise for a stochastic step: the caller's, else the scheduler's source, else an error. */
export function stepNoise(length: number, options: StepOptions | undefined, source: NoiseSource | undefined, who: string): Float32Array {
  const noise = options?.noise ?? source?.(length);
  if (!noise) throw new Error(`${who} is stochastic: give it a noise source`);
  if (noise.length !== length) throw new Error(`${who}: noise has ${noise.length} values, the sample ${length}`);
  return noise;
}

/** x0 and ε from the model output at a VP point x = α x0 + σ ε (α² + σ² = 1), per prediction type. */
export function predictX0AndEps(
  modelOutput: Float32Array, sample: Float32Array, alpha: number, sigma: number, predictionType: SchedulerConfig['prediction_type'],
): { x0: Float64Array; eps: Float64Array } {
  const x0 = new Float64Array(sample.length);
  const eps = new Float64Array(sample.length);
  for (let i = 0; i < sample.length; i++) {
    const m = modelOutput[i]!;
    const x = sample[i]!;
    if (predictionType === 'v_prediction') {
      // v = α ε − σ x0 (Salimans & Ho 2022, sec. 4)
      x0[i] = alpha * x - sigma * m;
      eps[i] = alpha * m + sigma * x;
    } else {
      x0[i] = (x - sigma * m) / alpha;
      eps[i] = m;
    }
  }
  return { x0, eps };
}

/** sqrt(ᾱ_t) x0 + sqrt(1 − ᾱ_t) ε: the forward process at t (Ho et al. 2020, eq. 4), diffusers' add_noise for
 *  the discrete-time samplers. */
export function noiseTo(original: Float32Array, noise: Float32Array, abarT: number): Float32Array {
  checkSameLength(original, noise);
  const a = Math.sqrt(abarT);
  const b = Math.sqrt(1 - abarT);
  return original.map((x, i) => a * x + b * noise[i]!);
}

export function checkSameLength(original: Float32Array, noise: Float32Array): void {
  if (noise.length !== original.length) throw new Error(`add_noise: noise has ${noise.length} values, the sample ${original.length}`);
}

/** A whole number of grid steps to skip, fewer than the grid has (at least one step must remain). */
export function checkSkip(skip: number, n: number, who: string): void {
  if (!Number.isInteger(skip) || skip < 0 || skip >= n) throw new RangeError(`${who}: can skip 0 to ${n - 1} of its ${n} steps, got ${skip}`);
}

export function checkSteps(n: number, who: string): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${who}: the number of steps must be a whole number ≥ 1, got ${n}`);
}
