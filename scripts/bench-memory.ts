// Peak memory of one generation, with and without low-memory mode (one network loaded at a time) and
// the tiled VAE decode, at several sizes. Each configuration runs in a fresh Node process (onnxruntime-
// web's WASM heap grows and never shrinks, so a process measures one configuration's peak): the engine's
// own code on the WASM backend, the pack read from disk. The figure is the process's peak resident set
// (VmHWM), minus the same process's resident set before the engine loaded; medians over repeats.
//
//   npx tsx scripts/bench-memory.ts [--pack public/models/shapes-int8] [--sizes 512,768] [--steps 2]
//                                   [--repeats 3] [--out bench/memory.json]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MB, procStatus as status, watchWasmMemory } from './lib/wasm-memory';

const { values: opt } = parseArgs({
  options: {
    pack: { type: 'string', default: 'public/models/shapes-int8' },
    sizes: { type: 'string', default: '512,768' },
    steps: { type: 'string', default: '2' },
    repeats: { type: 'string', default: '3' },
    out: { type: 'string', default: 'bench/memory.json' },
    child: { type: 'string' },
  },
});

interface Config { size: number; lowMemory: boolean; tiled: boolean }
interface Sample { baselineMb: number; peakMb: number; loadedMb: number; ms: number; wasmHeapMb: number; wasmAfterLoadMb: number }

async function child(c: Config): Promise<void> {
  const wasmBytes = watchWasmMemory();
  const { nodeEngine } = await import('./lib/node-engine');
  const { DEFAULT_TILES } = await import('../src/core/pipeline/tiled-vae');
  const engine = await nodeEngine({ threads: 1 });
  const baseline = status('VmRSS:');
  await engine.load({ packId: resolve(opt.pack!), backend: 'wasm', lowMemory: c.lowMemory });
  const loaded = status('VmRSS:');
  const heapAfterLoad = wasmBytes();
  const t0 = performance.now();
  await engine.generate({ prompt: 'a red circle on a blue background', steps: Number(opt.steps), width: c.size, height: c.size, seed: 1, scheduler: 'ddim' },
    c.tiled ? { vaeTiles: DEFAULT_TILES } : {});
  const ms = performance.now() - t0;
  const sample: Sample = { baselineMb: baseline / MB, peakMb: (status('VmHWM:') - baseline) / MB, loadedMb: (loaded - baseline) / MB, ms, wasmHeapMb: wasmBytes() / MB, wasmAfterLoadMb: heapAfterLoad / MB };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  await engine.dispose();
}

function parent(): void {
  const sizes = opt.sizes!.split(',').map(Number);
  const repeats = Number(opt.repeats);
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows: (Config & { wasmHeapMb: number; wasmAfterLoadMb: number; peakMb: number; afterLoadMb: number; ms: number })[] = [];
  for (const size of sizes) {
    for (const lowMemory of [false, true]) {
      for (const tiled of [false, true]) {
        const c: Config = { size, lowMemory, tiled };
        const samples: Sample[] = [];
        for (let i = 0; i < repeats; i++) {
          const r = spawnSync(process.execPath, [...process.execArgv, process.argv[1]!, '--child', JSON.stringify(c), '--pack', opt.pack!, '--steps', opt.steps!], { encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
          samples.push(JSON.parse(r.stdout.trim().split('\n').pop()!) as Sample);
        }
        rows.push({ ...c, wasmHeapMb: median(samples.map((s) => s.wasmHeapMb)), wasmAfterLoadMb: median(samples.map((s) => s.wasmAfterLoadMb)), peakMb: median(samples.map((s) => s.peakMb)), afterLoadMb: median(samples.map((s) => s.loadedMb)), ms: median(samples.map((s) => s.ms)) });
        process.stderr.write('.');
      }
    }
  }
  process.stderr.write('\n');
  const result = { pack: opt.pack, steps: Number(opt.steps), repeats, backend: 'wasm (Node, 1 thread)', measure: 'onnxruntime-web WASM heap at its peak (it never shrinks) and after load; process peak RSS (VmHWM) above the RSS before the engine loaded; MB', rows };
  mkdirSync(dirname(resolve(opt.out!)), { recursive: true });
  writeFileSync(resolve(opt.out!), `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify(result));
  console.log('\n| size | low memory | tiled VAE | WASM heap peak (MB) | WASM heap after load (MB) | process peak RSS above baseline (MB) | run (ms) |\n| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(`| ${r.size}² | ${r.lowMemory ? 'yes' : 'no'} | ${r.tiled ? 'yes' : 'no'} | ${r.wasmHeapMb.toFixed(0)} | ${r.wasmAfterLoadMb.toFixed(0)} | ${r.peakMb.toFixed(0)} | ${r.ms.toFixed(0)} |`);
}

if (opt.child) await child(JSON.parse(opt.child) as Config);
else parent();
