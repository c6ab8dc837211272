// The scheduler registry: one entry per sampler the app offers, with how each maps onto diffusers'
// classes and config keys. Data, not branching code.
import { DdimScheduler } from './ddim';
import { DpmSolverMultistepScheduler } from './dpm-solver-multistep';
import { EulerAncestralScheduler } from './euler-ancestral';
import { EulerScheduler } from './euler';
import { LcmScheduler } from './lcm';
import { PndmScheduler } from './pndm';
import type { NoiseSource, Scheduler, SchedulerConfig, SchedulerOptions } from './types';

export type { NoiseSource, Scheduler, SchedulerConfig, SchedulerOptions, StepOptions, StepResult } from './types';

interface SchedulerEntry {
  readonly label: string;
  /** One line under the choice: what it is good for, in a person's words. */
  readonly hint: string;
  readonly make: (options: SchedulerOptions) => Scheduler;
  /** Config keys this sampler sets on top of the pack's scheduler config. */
  readonly overrides?: Partial<SchedulerConfig>;
}

export const SCHEDULERS = {
  pndm: { label: 'PNDM / PLMS', hint: 'SD 1.5\'s own; steady at 20–50 steps, poor below 10.', make: (o) => new PndmScheduler(o) },
  ddim: { label: 'DDIM', hint: 'keeps a seed\'s layout as steps change; holds up at 10–20 steps.', make: (o) => new DdimScheduler(o) },
  euler: { label: 'Euler', hint: 'simple; good from about 20 steps.', make: (o) => new EulerScheduler(o) },
  'euler-karras': { label: 'Euler (Karras σ)', hint: 'more of its steps at low noise: finer detail at few steps.', make: (o) => new EulerScheduler(o), overrides: { use_karras_sigmas: true } },
  'euler-ancestral': { label: 'Euler ancestral', hint: 'fresh noise each step: livelier, changes with the step count.', make: (o) => new EulerAncestralScheduler(o) },
  'dpmpp-2m': { label: 'DPM-Solver++ 2M', hint: 'second order: good in 15–25 steps.', make: (o) => new DpmSolverMultistepScheduler(o), overrides: { solver_order: 2 } },
  'dpmpp-2m-karras': {
    label: 'DPM-Solver++ 2M Karras', hint: 'SD front-ends\' usual at 20–30 steps.', make: (o) => new DpmSolverMultistepScheduler(o), overrides: { solver_order: 2, use_karras_sigmas: true },
  },
  lcm: { label: 'LCM', hint: 'for LCM / LCM-LoRA models only: 2–8 steps, guidance 1–2.', make: (o) => new LcmScheduler(o) },
} as const satisfies Record<string, SchedulerEntry>;

export type SchedulerName = keyof typeof SCHEDULERS;

export function isSchedulerName(name: string): name is SchedulerName {
  return Object.hasOwn(SCHEDULERS, name);
}

/** A sampler configured from a pack's scheduler config (diffusers' scheduler_config.json). */
export function createScheduler(name: SchedulerName, config: SchedulerConfig, extra: { eta?: number; noise?: NoiseSource } = {}): Scheduler {
  const entry: SchedulerEntry = SCHEDULERS[name];
  return entry.make({ config: { ...config, ...entry.overrides }, ...extra });
}
