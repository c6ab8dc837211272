/**
 * Seeded standard-normal noise: the same seed gives the same numbers, on every run and every device.
 *
 * Uniforms come from xoshiro128** (Blackman & Vigna 2018), seeded by expanding the 32-bit seed with
 * SplitMix32; pairs of uniforms become normals by the Box–Muller transform (Box & Muller 1958).
 * Integer steps are exact in JavaScript; Math.log/cos/sin are correctly rounded to within an ulp on
 * every engine, so a seed draws the same starting latents everywhere (to float32 precision). One
 * generator serves a whole generation: initial latents first, then any per-step noise of a
 * stochastic scheduler, so the seed alone determines the image.
 */
export class SeededRandom {
  private readonly s = new Uint32Array(4);
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new RangeError(`seed must be a whole number from 0 to 4294967295, got ${seed}`);
    }
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // SplitMix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A generator from a raw xoshiro128** state (for checking against the published test vectors). */
  static fromState(state: readonly [number, number, number, number]): SeededRandom {
    const r = new SeededRandom(0);
    r.s.set(state);
    return r;
  }

  /** A uniform 32-bit integer (xoshiro128**). */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5), 7), 9) >>> 0;
    const t = s[1]! << 9;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** A uniform number in (0, 1): never 0, so its logarithm is finite. */
  nextUniform(): number {
    return (this.nextUint32() + 0.5) / 4294967296;
  }

  nextGaussian(): number {
    if (this.spare !== undefined) {
      const v = this.spare;
      this.spare = undefined;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(this.nextUniform()));
    const theta = 2 * Math.PI * this.nextUniform();
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** `length` standard normals. */
  gaussian(length: number): Float32Array {
    const out = new Float32Array(length);
    for (let i = 0; i < length; i++) out[i] = this.nextGaussian();
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** A seed for "random": uniformly drawn from the platform's cryptographic source when it has one. */
export function randomSeed(): number {
  const c = globalThis.crypto;
  if (c?.getRandomValues) return c.getRandomValues(new Uint32Array(1))[0]!;
  return Math.floor(Math.random() * 4294967296);
}
