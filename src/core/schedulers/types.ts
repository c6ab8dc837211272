/** diffusers' scheduler_config.json keys that the schedulers read (snake_case, as SD packs ship them). */
export interface SchedulerConfig {
  readonly num_train_timesteps: number;
  readonly beta_start: number;
  readonly beta_end: number;
  readonly beta_schedule: 'scaled_linear' | 'linear';
  readonly prediction_type?: 'epsilon' | 'v_prediction';
  readonly timestep_spacing?: 'leading' | 'linspace' | 'trailing';
  readonly steps_offset?: number;
  readonly set_alpha_to_one?: boolean;
  readonly use_karras_sigmas?: boolean;
  readonly solver_order?: number;
  readonly lower_order_final?: boolean;
  readonly final_sigmas_type?: 'zero' | 'sigma_min';
  readonly original_inference_steps?: number;
  readonly timestep_scaling?: number;
}

/** Standard-normal noise of a given length (the pipeline's seeded generator). */
export type NoiseSource = (length: number) => Float32Array;

export interface SchedulerOptions {
  readonly config: SchedulerConfig;
  /** DDIM's η: 0 is deterministic DDIM, 1 is DDPM-like ancestral sampling. */
  readonly eta?: number;
  /** Where stochastic schedulers draw their per-step noise. */
  readonly noise?: NoiseSource;
}

export interface StepOptions {
  /** This step's noise, overriding the scheduler's NoiseSource (reference fixtures use it). */
  readonly noise?: Float32Array;
}

export interface StepResult {
  readonly prevSample: Float32Array;
  readonly predOriginalSample?: Float32Array;
}

/**
 * The contract every sampler keeps (diffusers' SchedulerMixin, without its per-class quirks):
 * setTimesteps(n) resets all hidden state; then for each t of `timesteps`:
 *   eps = unet(scaleModelInput(x, t), t); x = step(eps, t, x).prevSample
 * starting from noise × initNoiseSigma.
 */
export interface Scheduler {
  readonly timesteps: readonly number[];
  readonly initNoiseSigma: number;
  /** Whether step() consumes noise (and so depends on the seed beyond the initial latents). */
  readonly stochastic: boolean;
  setTimesteps(numInferenceSteps: number): void;
  /**
   * Image-to-image's start (diffusers' img2img: `t_start`, `set_begin_index`): after setTimesteps(n), drop the
   * first `skip` steps of the n-step grid; `timesteps` then holds the rest, and step() goes on from there.
   */
  beginAt(skip: number): void;
  /**
   * diffusers' add_noise: clean latents x0 taken to the noise level of the first timestep left (after
   * beginAt), the sample the loop starts from in place of noise × initNoiseSigma.
   */
  addNoise(original: Float32Array, noise: Float32Array): Float32Array;
  scaleModelInput(sample: Float32Array, timestep: number): Float32Array;
  step(modelOutput: Float32Array, timestep: number, sample: Float32Array, options?: StepOptions): StepResult;
}
