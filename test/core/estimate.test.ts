import { describe, expect, it } from 'vitest';
import { comparisonRequests } from '../../src/core/compare';
import { describeEstimate, describeVerdict, estimateMs, foldRun, largestAttentionBytes, measuredRun, passBatches, steadyUnetMs } from '../../src/core/estimate';

describe('the cost model', () => {
  it('learns per-latent-pixel UNet cost and per-pixel VAE cost from one run and predicts another size', () => {
    // 20 steps at 256² (1024 latent px): 2000 ms of UNet, 100 ms VAE, 50 ms the rest.
    const c = foldRun(undefined, { steps: 20, width: 256, height: 256 }, 2000, 100, 2150);
    expect(c.unetMsPerKiloLatent).toBeCloseTo(2000 / 20 / 1.024, 6);
    expect(c.fixedMs).toBeCloseTo(50, 6);
    // 512² has 4× the latent pixels and 4× the pixels: 4 × 2000 + 4 × 100 + 50.
    expect(estimateMs(c, { steps: 20, width: 512, height: 512 })).toBeCloseTo(8450, 3);
    expect(estimateMs(c, { steps: 10, width: 256, height: 256 })).toBeCloseTo(1150, 3);
  });

  it('counts a run without guidance as half the UNet work', () => {
    const guided = foldRun(undefined, { steps: 20, width: 256, height: 256, batch: 2 }, 2000, 100, 2150);
    const plain = foldRun(undefined, { steps: 20, width: 256, height: 256, batch: 1 }, 1000, 100, 1150);
    expect(plain.unetMsPerKiloLatent).toBeCloseTo(guided.unetMsPerKiloLatent, 6);
    expect(estimateMs(guided, { steps: 20, width: 256, height: 256, batch: 1 })).toBeCloseTo(1150, 3);
  });

  it('moves halfway towards each new run', () => {
    const a = foldRun(undefined, { steps: 10, width: 256, height: 256 }, 1024, 0, 1024);
    const b = foldRun(a, { steps: 10, width: 256, height: 256 }, 3072, 0, 3072);
    expect(b.unetMsPerKiloLatent).toBeCloseTo((100 + 300) / 2, 6);
  });

  it('sizes the attention buffer as SD\'s first attention level does and warns past the GPU limit', () => {
    // SD 1.5 at 512²: 4096 tokens, 8 heads, batch 2, fp32 → 2 × 8 × 4096² × 4 bytes = 1 GiB.
    const sd = { downscale: 1, heads: 8 };
    expect(largestAttentionBytes({ steps: 20, width: 512, height: 512 }, sd, 2)).toBe(2 * 8 * 4096 * 4096 * 4);
    const { text, warning } = describeEstimate(undefined, { steps: 20, width: 512, height: 512 }, sd, 2, 256 * 1024 * 1024);
    expect(text).toMatch(/^measured after your first picture/);
    expect(warning).toMatch(/exceeds this GPU's largest buffer \(256\.0 MB\)/);
    expect(describeEstimate(undefined, { steps: 20, width: 256, height: 256 }, { downscale: 4, heads: 3 }, 2, 256 * 1024 * 1024).warning).toBe('');
  });

  it('counts a two-pass run\'s steps each at its own size, both when learning and when predicting', () => {
    // 20 layout steps at 256² (1024 latent px) and 8 at 512² (4096): 20 + 32 = 52 steps' worth of 256² work
    const two = { steps: 8, width: 512, height: 512, layout: { width: 256, height: 256, steps: 20 } };
    const c = foldRun(undefined, two, 5200, 400, 5650);
    expect(c.unetMsPerKiloLatent).toBeCloseTo(100 / 1.024, 6);
    expect(estimateMs(c, two)).toBeCloseTo(5650, 3);
    // the same device's one-pass 512² run: 20 × 4 × 100 ms of UNet (a fold that ignored the layout would say 5200 / 8 per step)
    expect(estimateMs(c, { steps: 20, width: 512, height: 512 })).toBeCloseTo(8000 + 400 + 50, 3);
  });
});

describe('a run\'s steady UNet time', () => {
  it('leaves out a first call\'s warm-up, in each pass of a two-pass run', () => {
    // 4 sketch calls of 100 ms (the first 900: a session's first run) and 3 full-size calls of 400 ms (the first
    // 1000: new shaders at the new size)
    const { steadyMs, onceMs } = steadyUnetMs([900, 100, 100, 100, 1000, 400, 400], 4);
    expect(steadyMs).toBe(4 * 100 + 3 * 400);
    expect(onceMs).toBe(800 + 600);
    // a redraw of two calls (a 4-step two-pass run): the lower median, so its warm-up is seen
    expect(steadyUnetMs([900, 100, 100, 100, 1000, 400], 4).onceMs).toBe(800 + 600);
    expect(steadyUnetMs([500, 100, 110, 90]).steadyMs).toBe(4 * 100);
    // each pass capped at what it took: a pass with a few fast calls does not hide another's warm-up
    expect(steadyUnetMs([1000, 100, 100, 400, 400, 400, 10, 10], 3).onceMs).toBe(900);
    // a steady run is left as it ran; a one-call pass cannot be told from its warm-up
    expect(steadyUnetMs([100, 100, 100]).onceMs).toBe(0);
    expect(steadyUnetMs([3100]).onceMs).toBe(0);
    expect(steadyUnetMs([]).steadyMs).toBe(0);
  });

  it('keeps the projection of a first picture where a second one puts it (the app\'s own fold)', () => {
    // the same 20-step 256² run twice: first with a 3 s warm-up on its first call, then steady
    const run = (unetMs: number[]) => ({
      timings: { unetMs, schedulerMs: 20, vaeMs: 100, previewMs: 0, totalMs: unetMs.reduce((a, b) => a + b, 0) + 20 + 100 + 50 },
      request: { width: 256, height: 256, guidanceScale: 4.5 },
    });
    const fold = (old: ReturnType<typeof foldRun> | undefined, unetMs: number[]) => {
      const m = measuredRun(run(unetMs), 8);
      return foldRun(old, m.run, m.unetAndSchedulerMs, m.vaeMs, m.totalMs);
    };
    const afterOne = fold(undefined, [3100, ...Array<number>(19).fill(100)]);
    const afterTwo = fold(afterOne, Array<number>(20).fill(100));
    const headline = { steps: 20, width: 512, height: 512 };
    expect(estimateMs(afterOne, headline)).toBeCloseTo(estimateMs(afterTwo, headline), 6);
    expect(afterOne.fixedMs).toBeCloseTo(50, 6); // (the warm-up is in neither the UNet's cost nor the rest)
    // a two-pass run's shape: the sketch's calls at the sketch's size
    const two = measuredRun({ ...run([900, 100, 100, 100, 1000, 400, 400]), layout: { width: 128, height: 128, calls: 4 } }, 8);
    expect(two.run).toEqual({ steps: 3, width: 256, height: 256, batch: 2, downscaleFactor: 8, layout: { width: 128, height: 128, steps: 4 } });
    expect(two.unetAndSchedulerMs).toBe(4 * 100 + 3 * 400 + 20);
    // a sketch drawn with regional prompts (two objects: 3 captions a call, not 2) costs half as much again a call
    const apart = measuredRun({ ...run([900, 150, 150, 150, 1000, 400, 400]), layout: { width: 128, height: 128, calls: 4 }, regions: [{}, {}] }, 8);
    expect(apart.run.layout).toEqual({ width: 128, height: 128, steps: 4, batch: 3 });
    const costs = foldRun(undefined, apart.run, apart.unetAndSchedulerMs, apart.vaeMs, apart.totalMs);
    expect(estimateMs(costs, apart.run)).toBeCloseTo(apart.totalMs, 6);
    expect(estimateMs(costs, { ...apart.run, layout: { width: 128, height: 128, steps: 4 } })).toBeCloseTo(apart.totalMs - costs.unetMsPerKiloLatent * 4 * (16 * 16 * 0.5) / 1000, 6);
  });

  it('counts each pass\'s UNet batch: guidance doubles it, regional prompts add one caption per object to the pass they draw', () => {
    expect(passBatches(true, undefined, true)).toEqual({ batch: 2 });
    expect(passBatches(true, 2, true)).toEqual({ batch: 2, layoutBatch: 3 });
    expect(passBatches(false, 3, true)).toEqual({ batch: 1, layoutBatch: 3 });
    expect(passBatches(true, 2, false)).toEqual({ batch: 3 });
    expect(passBatches(false, undefined, false)).toEqual({ batch: 1 });
  });
});

describe('comparisonRequests', () => {
  const base = { prompt: 'a red circle', negativePrompt: '', steps: 20, width: 512, height: 512, guidanceScale: 7.5, seed: 3, scheduler: 'ddim' };
  it('varies only the step count, keeping prompt and seed', () => {
    const runs = comparisonRequests(base, 'steps', { minSize: 256, maxSize: 768, multipleOf: 64 });
    expect(runs.map((r) => r.steps)).toEqual([1, 4, 8, 20, 50]);
    expect(new Set(runs.map((r) => `${r.prompt}|${r.seed}|${r.width}`)).size).toBe(1);
  });
  it('covers the pack\'s size range, ending at its largest', () => {
    const runs = comparisonRequests(base, 'size', { minSize: 256, maxSize: 768, multipleOf: 64 });
    expect(runs.map((r) => r.width)).toEqual([256, 384, 512, 640, 768]);
    expect(runs.every((r) => r.width === r.height && r.steps === 20)).toBe(true);
  });
});

describe('the verdict under a picture', () => {
  it('judges a run at 20 steps and 512×512 against the headline as it is', () => {
    expect(describeVerdict({ steps: 20, width: 512, height: 512, totalMs: 9800 }, 20_000))
      .toBe("9.8 s for 20 steps at 512×512: under the 15 s goal, what Qualcomm's phone demo took for the same run.");
    // without guidance it is half the work: projected, not judged, and the projection says what it adds
    expect(describeVerdict({ steps: 20, width: 512, height: 512, totalMs: 4900, guided: false }, 9_800))
      .toBe("4.9 s for 20 steps at 512×512. With guidance it would take about 9.8 s here (projected): under the 15 s goal (Qualcomm's phone demo).");
    expect(describeVerdict({ steps: 4, width: 256, height: 256, totalMs: 300, guided: false }, 25_000))
      .toBe("0.3 s for 4 steps at 256×256. At 20 steps and 512×512 in one pass, with guidance, it would take about 25.0 s here (projected): over the 15 s goal (Qualcomm's phone demo).");
  });

  it('projects any other run to 20 steps at 512² and says it is a projection', () => {
    const v = describeVerdict({ steps: 1, width: 256, height: 256, totalMs: 400 }, 23_400);
    expect(v).toBe("0.4 s for 1 step at 256×256. At 20 steps and 512×512 in one pass it would take about 23.4 s here (projected): over the 15 s goal (Qualcomm's phone demo).");
    expect(v).not.toMatch(/^0\.4 s[^.]*under/);
    // a 20-step run at another size: only the size differs
    expect(describeVerdict({ steps: 20, width: 256, height: 256, totalMs: 6700 }, 25_200))
      .toBe("6.7 s for 20 steps at 256×256. At 512×512 in one pass it would take about 25.2 s here (projected): over the 15 s goal (Qualcomm's phone demo).");
  });

  it('without a cost model, says how to compare', () => {
    expect(describeVerdict({ steps: 4, width: 256, height: 256, totalMs: 800 }, undefined)).toMatch(/Run 20 steps at 512×512 to measure/);
    // 20 steps at 512×512 in two passes is not the demo's run: its own figures and the one-pass projection
    const two = describeVerdict({ steps: 20, width: 512, height: 512, totalMs: 5600, layout: { width: 256, height: 256, fullSteps: 8 } }, 8_450);
    expect(two).toBe("5.6 s for 20 steps at 256×256, then 8 at 512×512 (two passes). In one pass, 20 steps at 512×512 would take about 8.4 s here (projected): under the 15 s goal (Qualcomm's phone demo).");
  });
});

describe('the estimate', () => {
  const costs = foldRun(undefined, { steps: 20, width: 256, height: 256 }, 2000, 100, 2150);
  it('shows no GPU buffer on WASM, and does not estimate steps out of range', () => {
    const attention = { downscale: 1, heads: 8 };
    expect(describeEstimate(costs, { steps: 20, width: 512, height: 512 }, attention, 2, undefined).text).not.toContain('GPU buffer');
    // measured without the warm-up (measuredRun): said, since a first picture's "Done in" is longer
    expect(describeEstimate(costs, { steps: 20, width: 512, height: 512 }, attention, 2, undefined).text).toMatch(/^about \d+\.\d s on this device once warmed up$/);
    expect(describeEstimate(costs, { steps: 20, width: 512, height: 512 }, attention, 2, 2 ** 30).text).toContain('largest GPU buffer');
    expect(describeEstimate(costs, { steps: 1000, width: 512, height: 512 }, attention, 2, undefined).text).toBe('no estimate: steps go up to 100');
  });
});
