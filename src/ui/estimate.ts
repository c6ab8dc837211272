// This device's cost model, per pack and backend, in localStorage: each finished run is folded in.
import { foldRun, type CostModel, type RunShape } from '../core/estimate';

const key = (packId: string, backend: string) => `pocket-diffusion.cost.${packId}.${backend}`;

export function loadCosts(packId: string, backend: string): CostModel | undefined {
  try {
    const v = JSON.parse(localStorage.getItem(key(packId, backend)) ?? 'null') as CostModel | null;
    return v && v.unetMsPerKiloLatent > 0 ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Fold one finished run into the device's cost model. */
export function recordRun(packId: string, backend: string, run: RunShape, unetAndSchedulerMs: number, vaeMs: number, totalMs: number): void {
  localStorage.setItem(key(packId, backend), JSON.stringify(foldRun(loadCosts(packId, backend), run, unetAndSchedulerMs, vaeMs, totalMs)));
}
