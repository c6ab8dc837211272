// Euler ancestral sampling (k-diffusion's sample_euler_ancestral; Karras et al. 2022's σ-space with
// DDPM-style fresh noise each step), as diffusers' EulerAncestralDiscreteScheduler.
import { stepNoise } from './schedule';
import { sigmaX0 } from './sigma-schedule';
import { EulerScheduler } from './euler';
import type { StepOptions, StepResult } from './types';

export class EulerAncestralScheduler extends EulerScheduler {
  override readonly stochastic = true;

  override step(modelOutput: Float32Array, _t: number, sample: Float32Array, options?: StepOptions): StepResult {
    const sigma = this.sigmas[this.stepIndex]!;
    const next = this.sigmas[this.stepIndex + 1]!;
    const x0 = sigmaX0(modelOutput, sample, sigma, this.options.config);
    // Split the step to σ_next into a deterministic part down to σ_down and fresh noise of σ_up,
    // with σ_down² + σ_up² = σ_next².
    const sigmaUp = Math.sqrt((next * next * (sigma * sigma - next * next)) / (sigma * sigma));
    const sigmaDown = Math.sqrt(next * next - sigmaUp * sigmaUp);
    const noise = stepNoise(sample.length, options, this.options.noise, 'Euler ancestral');
    const prev = new Float32Array(sample.length);
    for (let i = 0; i < sample.length; i++) {
      const d = (sample[i]! - x0[i]!) / sigma;
      prev[i] = sample[i]! + d * (sigmaDown - sigma) + noise[i]! * sigmaUp;
    }
    this.stepIndex++;
    return { prevSample: prev, predOriginalSample: Float32Array.from(x0) };
  }
}
