// The comparison view's runs: the same prompt and seed across step counts or sizes — the person's own
// values, or these defaults.
import { badRequest } from './errors';
import { LIMITS, type GenerateRequest, type ImageLimits } from './pipeline/request';

export type CompareMode = 'steps' | 'size';

export const COMPARE_STEPS = [1, 4, 8, 20, 50] as const;

/** The default values of a mode: step counts, or square sizes across the pack's range. */
export function defaultCompareValues(mode: CompareMode, limits: ImageLimits): number[] {
  if (mode === 'steps') return [...COMPARE_STEPS];
  // A UNet exported for one latent size allows only that size.
  if (limits.fixed) return [limits.fixed[0]];
  const sizes: number[] = [];
  for (let s = limits.minSize; s <= limits.maxSize; s += limits.multipleOf * 2) sizes.push(s);
  if (sizes.at(-1) !== limits.maxSize) sizes.push(limits.maxSize);
  return sizes;
}

/** "1, 4, 8" (commas or spaces) into values the mode allows; a wrong one is refused by name. */
export function parseCompareValues(text: string, mode: CompareMode, limits: ImageLimits): number[] {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length) throw badRequest('compareValues', 'Give at least one value to compare, such as 1, 4, 20.');
  if (parts.length > 12) throw badRequest('compareValues', `Compare at most 12 values at a time; got ${parts.length}.`);
  return parts.map((p) => {
    const v = Number(p);
    if (mode === 'steps' && (!Number.isInteger(v) || v < LIMITS.minSteps || v > LIMITS.maxSteps)) {
      throw badRequest('compareValues', `"${p}" is not a step count: use whole numbers from ${LIMITS.minSteps} to ${LIMITS.maxSteps}.`);
    }
    if (mode === 'size') {
      const allowed = limits.fixed ? [limits.fixed[0]] : undefined;
      if (!Number.isInteger(v) || (allowed ? !allowed.includes(v) : v < limits.minSize || v > limits.maxSize || v % limits.multipleOf !== 0)) {
        throw badRequest('compareValues', allowed
          ? `This model runs at ${allowed[0]} only.`
          : `"${p}" is not a size this model allows: ${limits.minSize}–${limits.maxSize} pixels, multiples of ${limits.multipleOf}.`);
      }
    }
    return v;
  });
}

/** The variants of `base` a comparison runs: its step counts, or square sizes (each side `value`). */
export function comparisonRequests(base: GenerateRequest, mode: CompareMode, limits: ImageLimits, values: readonly number[] = defaultCompareValues(mode, limits)): GenerateRequest[] {
  if (mode === 'steps') return values.map((steps) => ({ ...base, steps }));
  if (limits.fixed) return [{ ...base, width: limits.fixed[0], height: limits.fixed[1] }];
  return values.map((s) => ({ ...base, width: s, height: s }));
}
