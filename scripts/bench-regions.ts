// What drawing named objects apart (regional prompts) costs: the built-in pack in Node on onnxruntime-web's
// WASM backend (the browser's .wasm), a two-object prompt drawn apart and whole, interleaved (apart, whole,
// apart, whole…) so that load on this shared machine falls on both alike. The sketch pass runs one caption
// more per object (3 a call for two objects, not 2); the redraw at full size is the same.
//
//   npx tsx scripts/bench-regions.ts [--sizes 256,512] [--repeats 5] [--threads 1]
//
// Prints the JSON summary and a table: median UNet and whole-run times per size and mode, and the median of
// the per-pair ratios (apart / whole).
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeEngine } from './lib/node-engine';

const { values: a } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512' },
    repeats: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    prompt: { type: 'string', default: 'a red star and a blue circle on a white background' },
  },
});

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const engine = await nodeEngine({ threads: Number(a.threads) });
  const info = await engine.load({ packId: resolve('public/models/shapes-int8'), backend: 'wasm' });
  const rows = [];
  for (const size of a.sizes.split(',').map(Number)) {
    const req = { prompt: a.prompt, steps: 20, width: size, height: size, seed: 0, scheduler: 'ddim', guidanceScale: info.defaults.guidanceScale };
    await engine.generate({ ...req, steps: 2 }); // warm-up at this size
    const runs: Record<'apart' | 'whole', { unetMs: number; totalMs: number }[]> = { apart: [], whole: [] };
    for (let i = 0; i < Number(a.repeats); i++) {
      for (const mode of ['apart', 'whole'] as const) {
        const r = await engine.generate({ ...req, regions: mode === 'apart' });
        if ((mode === 'apart') !== !!r.regions) throw new Error(`"${a.prompt}" was not drawn ${mode}`);
        runs[mode].push({ unetMs: r.timings.unetMs.reduce((x, y) => x + y, 0), totalMs: r.timings.totalMs });
      }
    }
    const ratio = median(runs.apart.map((r, i) => r.totalMs / runs.whole[i]!.totalMs));
    rows.push({
      size, repeats: Number(a.repeats),
      apart: { unetMs: median(runs.apart.map((r) => r.unetMs)), totalMs: median(runs.apart.map((r) => r.totalMs)) },
      whole: { unetMs: median(runs.whole.map((r) => r.unetMs)), totalMs: median(runs.whole.map((r) => r.totalMs)) },
      ratio,
    });
  }
  await engine.dispose();
  console.log(JSON.stringify({ prompt: a.prompt, backend: 'wasm (Node)', threads: Number(a.threads), rows }, null, 1));
  console.log('\n| size | UNet apart | UNet whole | run apart | run whole | apart / whole (median of pairs) |\n| --- | --- | --- | --- | --- | --- |');
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  for (const r of rows) console.log(`| ${r.size}² | ${s(r.apart.unetMs)} | ${s(r.whole.unetMs)} | ${s(r.apart.totalMs)} | ${s(r.whole.totalMs)} | ${r.ratio.toFixed(3)} |`);
}

main().catch((e: unknown) => { console.error(`bench-regions: ${e instanceof Error ? e.message : String(e)}`); process.exit(1); });
