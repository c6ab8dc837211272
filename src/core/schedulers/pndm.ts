// PNDM's pseudo linear multistep (PLMS) steps (Liu et al. 2022, "Pseudo Numerical Methods for
// Diffusion Models on Manifolds"), as diffusers' PNDMScheduler with skip_prk_steps — SD 1.5's default.
import { checkSkip, discreteSchedule, checkSteps, noiseTo, spacedTimesteps } from './schedule';
import type { Scheduler, SchedulerOptions, StepResult } from './types';

export class PndmScheduler implements Scheduler {
  readonly initNoiseSigma = 1;
  readonly stochastic = false;
  timesteps: number[] = [];
  private readonly abar: Float64Array;
  private readonly finalAlphaCumprod: number;
  private stepRatio = 0;
  private numInferenceSteps = 0;
  private ets: Float32Array[] = [];
  private counter = 0;
  private curSample: Float32Array | undefined;

  constructor(private readonly options: SchedulerOptions) {
    ({ abar: this.abar, finalAlphaCumprod: this.finalAlphaCumprod } = discreteSchedule(options.config));
  }

  setTimesteps(n: number): void {
    checkSteps(n, 'PNDM');
    this.stepRatio = Math.floor(this.options.config.num_train_timesteps / n);
    this.numInferenceSteps = n;
    this.start(spacedTimesteps(this.options.config, n, true));
  }

  /**
   * The PLMS list is rebuilt from the grid's remaining steps, the second one repeated again. (diffusers'
   * img2img slices the full list instead, which drops the repeat: its second model call then sees a sample
   * one grid step away from the timestep it is told.)
   */
  beginAt(skip: number): void {
    checkSkip(skip, this.numInferenceSteps, 'PNDM');
    this.start(spacedTimesteps(this.options.config, this.numInferenceSteps, true).slice(skip));
  }

  addNoise(original: Float32Array, noise: Float32Array): Float32Array {
    return noiseTo(original, noise, this.abar[this.timesteps[0]!]!);
  }

  /** A fresh multistep history over a descending grid. */
  private start(grid: readonly number[]): void {
    const ts = [...grid].reverse(); // ascending
    // PLMS needs one extra model call at the start: the second timestep is repeated.
    this.timesteps = [...ts.slice(0, -1), ...ts.slice(-2, -1), ...ts.slice(-1)].reverse();
    this.ets = [];
    this.counter = 0;
    this.curSample = undefined;
  }

  scaleModelInput(sample: Float32Array): Float32Array {
    return sample;
  }

  step(modelOutput: Float32Array, timestep: number, sample: Float32Array): StepResult {
    let t = timestep;
    let prevT = t - this.stepRatio;
    if (this.counter !== 1) {
      this.ets = this.ets.slice(-3);
      this.ets.push(modelOutput);
    } else {
      prevT = t;
      t += this.stepRatio;
    }
    const e = this.ets;
    const n = sample.length;
    let eps: Float32Array;
    let x = sample;
    // Linear multistep coefficients (eq. 12): Adams–Bashforth of order 1..4 on the ε history.
    if (e.length === 1 && this.counter === 0) {
      eps = modelOutput;
      this.curSample = sample;
    } else if (e.length === 1 && this.counter === 1) {
      eps = combine(n, [[0.5, modelOutput], [0.5, e[0]!]]);
      x = this.curSample!;
      this.curSample = undefined;
    } else if (e.length === 2) {
      eps = combine(n, [[3 / 2, e[1]!], [-1 / 2, e[0]!]]);
    } else if (e.length === 3) {
      eps = combine(n, [[23 / 12, e[2]!], [-16 / 12, e[1]!], [5 / 12, e[0]!]]);
    } else {
      eps = combine(n, [[55 / 24, e[3]!], [-59 / 24, e[2]!], [37 / 24, e[1]!], [-9 / 24, e[0]!]]);
    }
    const prevSample = this.prevSample(x, t, prevT, eps);
    this.counter++;
    return { prevSample, predOriginalSample: this.predictOriginal(x, t, eps) };
  }

  /** x̂0 from the sample and the combined ε (for previews; PNDM itself never forms it). */
  private predictOriginal(sample: Float32Array, t: number, modelOutput: Float32Array): Float32Array {
    const aT = this.abar[t]!;
    const sa = Math.sqrt(aT);
    const sb = Math.sqrt(1 - aT);
    const v = this.options.config.prediction_type === 'v_prediction';
    const out = new Float32Array(sample.length);
    for (let i = 0; i < out.length; i++) out[i] = v ? sa * sample[i]! - sb * modelOutput[i]! : (sample[i]! - sb * modelOutput[i]!) / sa;
    return out;
  }

  /** eq. 9: the transfer φ(x_t, ε, t, t−δ) from t to prevT. */
  private prevSample(sample: Float32Array, t: number, prevT: number, modelOutput: Float32Array): Float32Array {
    const aT = this.abar[t]!;
    const aPrev = prevT >= 0 ? this.abar[prevT]! : this.finalAlphaCumprod;
    const bT = 1 - aT;
    const bPrev = 1 - aPrev;
    const sampleCoeff = Math.sqrt(aPrev / aT);
    const denom = aT * Math.sqrt(bPrev) + Math.sqrt(aT * bT * aPrev);
    const v = this.options.config.prediction_type === 'v_prediction';
    const out = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const eps = v ? Math.sqrt(aT) * modelOutput[i]! + Math.sqrt(bT) * sample[i]! : modelOutput[i]!;
      out[i] = sampleCoeff * sample[i]! - ((aPrev - aT) * eps) / denom;
    }
    return out;
  }
}

function combine(n: number, terms: [number, Float32Array][]): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const [c, a] of terms) s += c * a[i]!;
    out[i] = s;
  }
  return out;
}
