// DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
// Probabilistic Models", algorithm 2, data prediction, midpoint form), as diffusers'
// DPMSolverMultistepScheduler with algorithm_type "dpmsolver++"; optionally on Karras sigmas.
import { alphasCumprod, checkSameLength, checkSkip, checkSteps, interp, karrasSigmas, linspace, predictX0AndEps, roundHalfEven, sigmaToTimestep, trailingTimesteps, trainSigmas } from './schedule';
import type { Scheduler, SchedulerOptions, StepResult } from './types';

export class DpmSolverMultistepScheduler implements Scheduler {
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  timesteps: number[] = [];
  private sigmas: number[] = [];
  private modelOutputs: Float64Array[] = [];
  private lowerOrderNums = 0;
  private stepIndex = 0;
  private readonly order: number;
  /** The grid's length before beginAt (diffusers' lower_order_final test reads it). */
  private numInferenceSteps = 0;
  /** The whole grid setTimesteps made, which beginAt cuts from. */
  private grid: { timesteps: number[]; sigmas: number[] } = { timesteps: [], sigmas: [] };

  constructor(private readonly options: SchedulerOptions) {
    this.order = options.config.solver_order ?? 2;
    if (this.order < 1 || this.order > 2) throw new RangeError(`DPM-Solver++: solver_order ${this.order} is not supported (1 or 2)`);
  }

  setTimesteps(n: number): void {
    checkSteps(n, 'DPM-Solver++');
    const c = this.options.config;
    const T = c.num_train_timesteps;
    const spacing = c.timestep_spacing ?? 'linspace';
    let ts: number[];
    // n + 1 points with the last (t = 0) dropped: the solver's final step goes to σ = 0.
    if (spacing === 'linspace') {
      ts = linspace(0, T - 1, n + 1).map(roundHalfEven).reverse().slice(0, -1);
    } else if (spacing === 'leading') {
      const ratio = Math.floor(T / (n + 1));
      ts = Array.from({ length: n + 1 }, (_, i) => i * ratio).reverse().slice(0, -1).map((t) => t + (c.steps_offset ?? 0));
    } else {
      ts = trailingTimesteps(T, n);
    }
    const train = trainSigmas(alphasCumprod(c));
    let sigmas: number[];
    if (c.use_karras_sigmas) {
      const logSigmas = train.map(Math.log);
      sigmas = karrasSigmas(train[train.length - 1]!, train[0]!, n);
      ts = sigmas.map((s) => roundHalfEven(sigmaToTimestep(s, logSigmas)));
    } else {
      sigmas = ts.map((t) => interp(t, train));
    }
    const last = (c.final_sigmas_type ?? 'zero') === 'zero' ? 0 : train[0]!;
    this.timesteps = ts;
    this.sigmas = [...sigmas, last];
    this.modelOutputs = [];
    this.lowerOrderNums = 0;
    this.stepIndex = 0;
    this.numInferenceSteps = n;
    this.grid = { timesteps: this.timesteps, sigmas: this.sigmas };
  }

  beginAt(skip: number): void {
    checkSkip(skip, this.grid.timesteps.length, 'DPM-Solver++');
    this.timesteps = this.grid.timesteps.slice(skip);
    this.sigmas = this.grid.sigmas.slice(skip);
    this.modelOutputs = [];
    this.lowerOrderNums = 0;
    this.stepIndex = 0;
  }

  /** α_t x0 + σ_t ε at the first σ left (diffusers' add_noise through _sigma_to_alpha_sigma_t). */
  addNoise(original: Float32Array, noise: Float32Array): Float32Array {
    checkSameLength(original, noise);
    const [alpha, sigma] = vp(this.sigmas[this.stepIndex]!);
    return original.map((x, i) => alpha * x + sigma * noise[i]!);
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, _t: number, sample: Float32Array): StepResult {
    const c = this.options.config;
    const i = this.stepIndex;
    const n = this.timesteps.length;
    const lowerOrderFinal = i === n - 1 && ((c.lower_order_final ?? true) && this.numInferenceSteps < 15 || (c.final_sigmas_type ?? 'zero') === 'zero');
    // (diffusers' lower_order_second matters only for a third-order solver, which this is not.)
    const [alphaS0, sigmaS0] = vp(this.sigmas[i]!);
    const [alphaT, sigmaT] = vp(this.sigmas[i + 1]!);
    // The solver works on the data prediction x0 (DPM-Solver++, eq. 8).
    const { x0 } = predictX0AndEps(modelOutput, sample, alphaS0, sigmaS0, c.prediction_type);
    this.modelOutputs = [...this.modelOutputs.slice(-(this.order - 1)), x0].slice(-this.order);
    const lambdaT = Math.log(alphaT) - Math.log(sigmaT);
    const lambdaS0 = Math.log(alphaS0) - Math.log(sigmaS0);
    const h = lambdaT - lambdaS0;
    const prev = new Float32Array(sample.length);
    const ratio = sigmaT / sigmaS0;
    const phi = alphaT * (Math.exp(-h) - 1);
    if (this.order === 1 || this.lowerOrderNums < 1 || lowerOrderFinal) {
      // First order = DDIM (eq. 5 with k = 1)
      for (let j = 0; j < sample.length; j++) prev[j] = ratio * sample[j]! - phi * x0[j]!;
    } else {
      // 2M: D1 from the previous data prediction, midpoint form (algorithm 2)
      const [alphaS1, sigmaS1] = vp(this.sigmas[i - 1]!);
      const lambdaS1 = Math.log(alphaS1) - Math.log(sigmaS1);
      const r0 = (lambdaS0 - lambdaS1) / h;
      const m1 = this.modelOutputs[this.modelOutputs.length - 2]!;
      for (let j = 0; j < sample.length; j++) {
        const d1 = (x0[j]! - m1[j]!) / r0;
        prev[j] = ratio * sample[j]! - phi * x0[j]! - 0.5 * phi * d1;
      }
    }
    if (this.lowerOrderNums < this.order) this.lowerOrderNums++;
    this.stepIndex++;
    return { prevSample: prev, predOriginalSample: Float32Array.from(x0) };
  }
}

/** (α_t, σ_t) of the VP process at σ-space noise level σ: α = 1 / sqrt(σ² + 1), σ_t = σ α. */
function vp(sigma: number): [number, number] {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return [alpha, sigma * alpha];
}
