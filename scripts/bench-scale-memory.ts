// Where onnxruntime-web's WASM backend holds a big network's memory, and what each session option saves:
// one network of a pack (by default SD 1.5's int8 UNet, ~860 MB of weights), created and run once per
// configuration, each in a fresh Node process (a WASM heap never shrinks, so a process measures one
// configuration). Figures: the WASM heap after session creation and after one UNet call, the process's
// resident set at both points and its peak (VmHWM), above the RSS before anything was read; create and
// run times. Configurations are run interleaved (A B C … A B C …) and medians reported.
//
//   npx tsx scripts/bench-scale-memory.ts --pack training/work/sd15-scale/sd15-scale-fp32-int8 (or an fp32 / fp16 export) \
//       [--network unet] [--latent 32] [--repeats 1] [--configs baseline,no-arena,...] [--out bench/scale-memory.json]
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type HostTensor, hostTensor } from '../src/core/pipeline/model-session';
import { toHalf } from '../src/core/pipeline/float16';
import type { SessionTuning } from '../src/runtime/ort-runtime';
import { MB, procStatus, watchWasmMemory } from './lib/wasm-memory';

const { values: opt } = parseArgs({
  options: {
    pack: { type: 'string', default: 'training/work/sd15-scale/sd15-scale-fp32-int8' },
    network: { type: 'string', default: 'unet' },
    latent: { type: 'string', default: '32' },
    repeats: { type: 'string', default: '1' },
    configs: { type: 'string' },
    out: { type: 'string', default: 'bench/scale-memory.json' },
    child: { type: 'string' },
  },
});

/** What each configuration changes from onnxruntime-web's defaults as the app used them (level 'all', arena on). */
const CONFIGS: Readonly<Record<string, { readonly what: string; readonly session: SessionTuning; readonly keepSource?: boolean }>> = {
  'baseline': { what: "the app's options (graph optimisation 'all', CPU arena on); source bytes dropped after creation", session: {} },
  'keep-source': { what: 'as baseline, the .onnx and external-data bytes kept referenced in JS', session: {}, keepSource: true },
  'no-arena': { what: 'enableCpuMemArena: false', session: { enableCpuMemArena: false } },
  'no-mem-pattern': { what: 'enableMemPattern: false', session: { enableMemPattern: false } },
  'opt-basic': { what: "graphOptimizationLevel: 'basic'", session: { graphOptimizationLevel: 'basic' } },
  'opt-disabled': { what: "graphOptimizationLevel: 'disabled'", session: { graphOptimizationLevel: 'disabled' } },
  'no-prepack': { what: 'session.disable_prepacking = 1', session: { config: { 'session.disable_prepacking': '1' } } },
  'no-arena-no-prepack': { what: 'enableCpuMemArena false + disable_prepacking', session: { enableCpuMemArena: false, config: { 'session.disable_prepacking': '1' } } },
};

/** A file as one buffer, read in pieces (Node's readFile stops at 2 GiB; SD 1.5's fp32 UNet weights are 3.4 GB). */
async function readWhole(path: string): Promise<Uint8Array> {
  const fh = await open(path);
  try {
    const { size } = await fh.stat();
    const out = new Uint8Array(size);
    for (let at = 0; at < size;) at += (await fh.read(out, at, Math.min(1 << 28, size - at), at)).bytesRead;
    return out;
  } finally {
    await fh.close();
  }
}

interface Sample { createMs: number; runMs: number; heapCreatedMb: number; heapRunMb: number; rssCreatedMb: number; rssRunMb: number; peakMb: number }

async function child(name: string): Promise<void> {
  const c = CONFIGS[name]!;
  const heap = watchWasmMemory();
  const { createRuntime } = await import('../src/runtime/ort-runtime');
  const { WASM_BINARY } = await import('./lib/node-engine');
  const { fileFor, externalDataFor } = await import('../src/store/manifest');
  const { folderManifest } = await import('./lib/pack-folder');
  const pack = resolve(opt.pack!);
  const manifest = await folderManifest(pack); // its own, or a diffusers layout's (the fp32 / fp16 exports)
  const role = opt.network as 'unet' | 'text_encoder' | 'vae_decoder';
  const runtime = await createRuntime({ backend: 'wasm', wasmBinary: await readFile(WASM_BINARY), numThreads: 1, session: c.session });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const base = procStatus('VmRSS:');
  let model: Uint8Array | undefined = await readFile(join(pack, fileFor(manifest, role).path));
  let external: { path: string; data: Uint8Array }[] | undefined = await Promise.all(
    externalDataFor(manifest, role).map(async (x) => ({ path: x.name, data: await readWhole(join(pack, x.file.path)) })));
  const t0 = performance.now();
  const session = await runtime.createSession(model, role, [], external);
  const createMs = performance.now() - t0;
  const kept = c.keepSource ? [model, external] : [];
  if (!c.keepSource) {
    model = undefined;
    external = undefined;
  }
  gc?.();
  const heapCreated = heap();
  const rssCreated = procStatus('VmRSS:');
  const L = Number(opt.latent);
  const feeds: Record<string, HostTensor> = {};
  for (const i of session.inputs) {
    const dims = i.name === 'sample' ? [2, 4, L, L] : i.name === 'latent_sample' ? [1, 4, L, L] : i.name === 'encoder_hidden_states' ? [2, 77, 768]
      : i.name === 'input_ids' ? [1, 77] : i.shape.map((d) => (typeof d === 'number' ? d : 2));
    const n = dims.reduce((a, d) => a * d, 1);
    const values = Float32Array.from({ length: n }, (_, k) => (i.name === 'timestep' ? 999 : Math.sin(k)));
    feeds[i.name] = i.type === 'int64' ? hostTensor('int64', new BigInt64Array(n).fill(999n), dims)
      : i.type === 'int32' ? hostTensor('int32', new Int32Array(n), dims)
      : i.type === 'float16' ? hostTensor('float16', toHalf(values), dims) : hostTensor('float32', values, dims);
  }
  const t1 = performance.now();
  await session.run(feeds);
  const runMs = performance.now() - t1;
  const sample: Sample = {
    createMs, runMs, heapCreatedMb: heapCreated / MB, heapRunMb: heap() / MB, rssCreatedMb: (rssCreated - base) / MB,
    rssRunMb: (procStatus('VmRSS:') - base) / MB, peakMb: (procStatus('VmHWM:') - base) / MB,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
  void kept;
  await session.release();
}

function parent(): void {
  const names = opt.configs ? opt.configs.split(',') : Object.keys(CONFIGS);
  for (const n of names) if (!CONFIGS[n]) throw new Error(`no configuration ${n}: ${Object.keys(CONFIGS).join(', ')}`);
  const repeats = Number(opt.repeats);
  const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
  for (let r = 0; r < repeats; r++) {
    for (const n of names) { // interleaved: A B C … A B C …
      const p = spawnSync(process.execPath, ['--expose-gc', ...process.execArgv, process.argv[1]!, '--child', n, '--pack', opt.pack!, '--network', opt.network!, '--latent', opt.latent!],
        { encoding: 'utf8', maxBuffer: 1 << 24 });
      if (p.status !== 0) {
        process.stderr.write(`\n${n} failed: ${p.stderr.slice(-1500)}\n`);
        continue;
      }
      samples.get(n)!.push(JSON.parse(p.stdout.trim().split('\n').pop()!) as Sample);
      process.stderr.write('.');
    }
  }
  process.stderr.write('\n');
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows = names.filter((n) => samples.get(n)!.length).map((n) => {
    const s = samples.get(n)!;
    const m = (k: keyof Sample) => Math.round(median(s.map((x) => x[k])));
    return { config: n, what: CONFIGS[n]!.what, runs: s.length, createMs: m('createMs'), runMs: m('runMs'), heapCreatedMb: m('heapCreatedMb'),
      heapRunMb: m('heapRunMb'), rssCreatedMb: m('rssCreatedMb'), rssRunMb: m('rssRunMb'), peakMb: m('peakMb') };
  });
  const result = { pack: opt.pack, network: opt.network, latent: Number(opt.latent), backend: 'onnxruntime-web WASM in Node, 1 thread', repeats,
    measure: 'MB; RSS figures above the RSS before the files were read; medians', rows };
  mkdirSync(dirname(resolve(opt.out!)), { recursive: true });
  writeFileSync(resolve(opt.out!), `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify(result));
  console.log(`\n| configuration | WASM heap after create | after 1 run | RSS after create | after run | peak RSS | create (ms) | run (ms) |\n| --- | --- | --- | --- | --- | --- | --- | --- |`);
  for (const r of rows) console.log(`| ${r.config}: ${r.what} | ${r.heapCreatedMb} | ${r.heapRunMb} | ${r.rssCreatedMb} | ${r.rssRunMb} | ${r.peakMb} | ${r.createMs} | ${r.runMs} |`);
}

if (opt.child) await child(opt.child);
else parent();
