// Before a run: how long it will take on this device and how big its largest GPU buffer will be. Time
// comes from this device's own measured runs: a UNet step costs about the same per latent pixel at any
// size, the VAE about the same per image pixel (src/ui/prefs.ts keeps the figures per pack and backend).
import { formatBytes } from './format';
import { DEFAULT_DOWNSCALE } from './pipeline/request';

export interface CostModel {
  /** UNet + scheduler milliseconds per step per 1000 latent pixels. */
  readonly unetMsPerKiloLatent: number;
  /** VAE milliseconds per image megapixel. */
  readonly vaeMsPerMegapixel: number;
  /** Text encoder and the rest, per run. */
  readonly fixedMs: number;
}

export interface RunShape {
  /** UNet calls of the run (PNDM makes one more than its steps). */
  readonly steps: number;
  readonly width: number;
  readonly height: number;
  /** 2 with classifier-free guidance, 1 without (half the UNet work); 2 when absent. */
  readonly batch?: number;
  /** Image pixels per latent pixel (the pack's VAE downscale factor; 8 when absent). */
  readonly downscaleFactor?: number;
  /** A two-pass run's first pass: its size, UNet calls and batch (`steps` then counts the second pass's, at full
   *  size; `batch` where the first pass's differs: regional prompts add one caption per object). */
  readonly layout?: { readonly width: number; readonly height: number; readonly steps: number; readonly batch?: number };
}

/** Latent pixels of a size, in thousands, per guided step's worth of UNet work. */
function kiloLatents(run: RunShape, width = run.width, height = run.height, batch = run.batch ?? 2): number {
  const f = run.downscaleFactor ?? DEFAULT_DOWNSCALE;
  return ((width / f) * (height / f) * (batch / 2)) / 1000;
}

/** The UNet work of a run in steps × thousands of latent pixels: each pass at its own size and batch. */
function stepKiloLatents(run: RunShape): number {
  const lay = run.layout;
  return run.steps * kiloLatents(run) + (lay ? lay.steps * kiloLatents(run, lay.width, lay.height, lay.batch ?? run.batch ?? 2) : 0);
}

/** The UNet batch of a run's passes: 2 with guidance, 1 without, and in the pass drawn with regional prompts
 *  (the first) one more per region than one caption. */
export function passBatches(guided: boolean, regions: number | undefined, twoPass: boolean): { batch: number; layoutBatch?: number } {
  const batch = guided ? 2 : 1;
  const regional = regions ? batch - 1 + regions : batch;
  return twoPass ? { batch, ...(regional !== batch ? { layoutBatch: regional } : {}) } : { batch: regional };
}

export interface AttentionShape {
  /** The UNet's first attention level, as a downscale of the latents (SD 1.5: 1; the shapes pack: 4). */
  readonly downscale: number;
  readonly heads: number;
}

/** A finished run folded into the cost model: a running average that favours recent runs. */
export function foldRun(old: CostModel | undefined, run: RunShape, unetAndSchedulerMs: number, vaeMs: number, totalMs: number): CostModel {
  // Costs are kept per guided step (batch 2); a run without guidance did half that work per step, and a
  // two-pass run's layout steps a fraction of its full-size ones.
  const mix = (a: number | undefined, b: number) => (a === undefined ? b : 0.5 * a + 0.5 * b);
  return {
    unetMsPerKiloLatent: mix(old?.unetMsPerKiloLatent, unetAndSchedulerMs / stepKiloLatents(run)),
    vaeMsPerMegapixel: mix(old?.vaeMsPerMegapixel, vaeMs / ((run.width * run.height) / 1e6)),
    fixedMs: mix(old?.fixedMs, Math.max(0, totalMs - unetAndSchedulerMs - vaeMs)),
  };
}

/**
 * A run's UNet time as this device would spend it again: each pass's median call (the lower one of an even
 * count) times its calls. The first call of a session, and on WebGPU the first at each new size, also pays
 * once-only work (shader compiles, the WASM heap growing); folded into the cost model it would make a first
 * picture's projection to 512×512 flip from under the 15 s goal to over it on the second. `layoutCalls`: a
 * two-pass run's first calls, at the sketch's size. A pass of one call cannot be told apart from its warm-up:
 * it counts as it ran. Returns the steady UNet time and the once-only part left out of it.
 */
export function steadyUnetMs(unetMs: readonly number[], layoutCalls = 0): { steadyMs: number; onceMs: number } {
  const lowerMedian = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1] ?? 0;
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  const passes = [unetMs.slice(0, layoutCalls), unetMs.slice(layoutCalls)];
  // Only time above a pass's median counts as once-only: no pass is made slower than it ran.
  const steadyMs = passes.reduce((a, p) => a + Math.min(sum(p), lowerMedian(p) * p.length), 0);
  return { steadyMs, onceMs: sum(unetMs) - steadyMs };
}

/** What a finished run tells the cost model: its shape, and its UNet, VAE and whole times without once-only work. */
export function measuredRun(
  r: {
    readonly timings: { readonly unetMs: readonly number[]; readonly schedulerMs: number; readonly vaeMs: number; readonly totalMs: number; readonly previewMs: number };
    readonly request: { readonly width: number; readonly height: number; readonly guidanceScale: number };
    readonly layout?: { readonly width: number; readonly height: number; readonly calls: number };
    readonly regions?: readonly unknown[];
  },
  downscaleFactor: number,
): { run: RunShape; unetAndSchedulerMs: number; vaeMs: number; totalMs: number } {
  const t = r.timings, lay = r.layout;
  const { steadyMs, onceMs } = steadyUnetMs(t.unetMs, lay?.calls ?? 0);
  const { batch, layoutBatch } = passBatches(r.request.guidanceScale > 1, r.regions?.length, !!lay);
  return {
    run: {
      steps: t.unetMs.length - (lay?.calls ?? 0), width: r.request.width, height: r.request.height, batch, downscaleFactor,
      ...(lay ? { layout: { width: lay.width, height: lay.height, steps: lay.calls, ...(layoutBatch ? { batch: layoutBatch } : {}) } } : {}),
    },
    unetAndSchedulerMs: steadyMs + t.schedulerMs,
    vaeMs: t.vaeMs,
    // full-quality previews are the person's extra, not the run's
    totalMs: t.totalMs - t.previewMs - onceMs,
  };
}

export function estimateMs(costs: CostModel, run: RunShape): number {
  return stepKiloLatents(run) * costs.unetMsPerKiloLatent + ((run.width * run.height) / 1e6) * costs.vaeMsPerMegapixel + costs.fixedMs;
}

/** Bytes of the attention-score matrix at the UNet's first attention level: [batch·heads, N, N] fp32. */
export function largestAttentionBytes(run: RunShape, attention: AttentionShape, batch: number): number {
  const f = run.downscaleFactor ?? DEFAULT_DOWNSCALE;
  const tokens = ((run.width / f) * (run.height / f)) / attention.downscale ** 2;
  return batch * attention.heads * tokens * tokens * 4;
}

/**
 * Before a run: its time on this device and, on a GPU, its largest buffer. `maxBufferSize` is the GPU's
 * limit when the run is on WebGPU, undefined on WASM (where no GPU buffer exists, so none is shown).
 * Steps outside what a request allows get no estimate but a sentence.
 */
export function describeEstimate(costs: CostModel | undefined, run: RunShape, attention: AttentionShape | undefined, batch: number, maxBufferSize: number | undefined, maxSteps = 100): { text: string; warning: string } {
  if (Math.max(run.steps, run.layout?.steps ?? 0) > maxSteps + 1) return { text: `no estimate: steps go up to ${maxSteps}`, warning: '' };
  // The cost model leaves out a session's once-only warm-up and full-quality previews (measuredRun), so right
  // after a first picture the estimate reads below its "Done in": said, so the two do not seem to disagree.
  const time = costs ? `about ${(estimateMs(costs, run) / 1000).toFixed(1)} s on this device once warmed up` : 'measured after your first picture (any size)';
  let memory = '';
  let warning = '';
  if (attention && maxBufferSize !== undefined) {
    const bytes = largestAttentionBytes(run, attention, batch);
    memory = ` · largest GPU buffer ≈ ${formatBytes(bytes)}`;
    if (maxBufferSize !== undefined && bytes > maxBufferSize) {
      warning = `At ${run.width}×${run.height} the attention buffer (${formatBytes(bytes)}) exceeds this GPU's largest buffer (${formatBytes(maxBufferSize)}): choose a smaller size or the WASM device.`;
    }
  }
  return { text: `${time}${memory}`, warning };
}

/** Qualcomm's MWC 2023 headline: SD 1.5, 20 steps at 512×512 in under 15 s on a phone. */
export const HEADLINE = Object.freeze({ ms: 15_000, steps: 20, width: 512, height: 512 });

/**
 * The verdict under a finished picture, comparing like with like: a run at the headline's 20 steps and
 * 512×512 is judged against 15 s as it is; any other run shows its own time and, where this device's cost
 * model has them, a projection to 20 steps at 512×512, labelled as one. Short: it sits under the picture, and
 * the run's rate is on the progress line ("Done in …") and its stages in the table below.
 */
export function describeVerdict(
  run: {
    readonly steps: number; readonly width: number; readonly height: number; readonly totalMs: number; readonly guided?: boolean;
    /** A two-pass run: its layout size and the steps at full size after it. */
    readonly layout?: { readonly width: number; readonly height: number; readonly fullSteps: number };
  },
  projectedMs: number | undefined,
): string {
  const lay = run.layout;
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const steps = `${run.steps} step${run.steps === 1 ? '' : 's'}`;
  const own = lay
    ? `${s(run.totalMs)} for ${steps} at ${lay.width}×${lay.height}, then ${lay.fullSteps} at ${run.width}×${run.height} (two passes)`
    : `${s(run.totalMs)} for ${steps} at ${run.width}×${run.height}`;
  const side = (ms: number) => (ms <= HEADLINE.ms ? 'under' : 'over');
  // The headline's run has classifier-free guidance (two UNet passes a step); without it, half the work.
  // A two-pass run is a different amount of work: it gets the projection, never the comparison itself.
  if (!lay && run.steps === HEADLINE.steps && run.width === HEADLINE.width && run.height === HEADLINE.height && run.guided !== false) {
    return `${own}: ${side(run.totalMs)} the 15 s goal, what Qualcomm's phone demo took for the same run.`;
  }
  if (lay) {
    // the demo's run is one pass of 20 steps at 512×512: what this device would take for it, said as such
    if (projectedMs === undefined) return `${own}. Turn "Two passes" off to measure 20 steps at 512×512 in one pass against the 15 s goal (Qualcomm's phone demo).`;
    return `${own}. In one pass, 20 steps at 512×512 would take about ${s(projectedMs)} here (projected): ${side(projectedMs)} the 15 s goal (Qualcomm's phone demo).`;
  }
  if (projectedMs === undefined) return `${own}. Run 20 steps at 512×512 to measure this device against the 15 s goal (Qualcomm's phone demo).`;
  // what differs from the demo's run, and only that: its steps, its size, its guidance (two UNet passes a step)
  const differs = [...(run.steps === HEADLINE.steps ? [] : ['20 steps']), ...(run.width === HEADLINE.width && run.height === HEADLINE.height ? [] : ['512×512'])];
  // (in one pass: the demo's run, where the app draws 512×512 from a sketch by default)
  const at = differs.length ? `At ${differs.join(' and ')} in one pass${run.guided === false ? ', with guidance,' : ''}` : 'With guidance';
  return `${own}. ${at} it would take about ${s(projectedMs)} here (projected): ${side(projectedMs)} the 15 s goal (Qualcomm's phone demo).`;
}
