// The comparison view's runs: the same prompt and seed across step counts or sizes.
import type { GenerateRequest, ImageLimits } from './pipeline/request';

export type CompareMode = 'steps' | 'size';

export const COMPARE_STEPS = [1, 4, 8, 20, 50] as const;

/** The variants of `base` a comparison runs: step counts, or square sizes the pack allows. */
export function comparisonRequests(base: GenerateRequest, mode: CompareMode, limits: ImageLimits): GenerateRequest[] {
  if (mode === 'steps') return COMPARE_STEPS.map((steps) => ({ ...base, steps }));
  // A UNet exported for one latent size allows only that size.
  if (limits.fixed) return [{ ...base, width: limits.fixed[0], height: limits.fixed[1] }];
  const sizes: number[] = [];
  for (let s = limits.minSize; s <= limits.maxSize; s += limits.multipleOf * 2) sizes.push(s);
  if (sizes.at(-1) !== limits.maxSize) sizes.push(limits.maxSize);
  return sizes.map((s) => ({ ...base, width: s, height: s }));
}

