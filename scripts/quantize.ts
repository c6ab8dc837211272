// An fp32 or fp16 Stable Diffusion export to an int8 pack, by the app's own streaming quantizer (the code
// that stores an added model as int8 in the browser): W8 per output channel, DequantizeLinear on the
// weights, activations float32. The source is a diffusers ONNX layout (text_encoder/, unet/, vae_decoder/,
// tokenizer/, scheduler/) or a folder with this app's manifest.json; the output is a pack folder with its
// manifest, which `npm run generate -- --pack <out>` runs and a web server can host.
//
//   npm run quantize -- --in <export folder> --out <pack folder> [--id ID] [--name NAME] [--activations float32|source] [--json]
import { mkdir, open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PocketError } from '../src/core/errors';
import { type PackSink, quantizePack } from '../src/store/quantize-pack';
import { fileStream, folderManifest } from './lib/pack-folder';

const { values: a } = parseArgs({
  options: {
    in: { type: 'string' },
    out: { type: 'string' },
    id: { type: 'string' },
    name: { type: 'string' },
    activations: { type: 'string', default: 'float32' },
    json: { type: 'boolean', default: false },
  },
});

/** Files written under a temporary name and renamed when complete: an interrupted run leaves no half file. */
function folderSink(out: string): PackSink {
  return {
    async create(path) {
      const target = join(out, path);
      await mkdir(dirname(target), { recursive: true });
      const part = `${target}.part`;
      const fh = await open(part, 'w');
      return {
        async write(b) {
          await fh.write(b);
        },
        async close() {
          await fh.close();
          await rename(part, target);
        },
      };
    },
  };
}

async function main(): Promise<void> {
  if (!a.in || !a.out) throw new PocketError('bad-request', 'give --in <export folder> and --out <pack folder>');
  if (a.activations !== 'float32' && a.activations !== 'source') throw new PocketError('bad-request', '--activations is float32 or source');
  const src = resolve(a.in);
  const out = resolve(a.out);
  if (out === src || src.startsWith(`${out}/`) || out.startsWith(`${src}/`)) throw new PocketError('bad-request', '--out must be a folder outside --in (and not one that holds it)');
  // It is replaced: refuse a folder that is not an earlier output (a pack with its manifest), or empty.
  const existing = await readdir(out).catch(() => [] as string[]);
  if (existing.length && !existing.includes('manifest.json')) throw new PocketError('bad-request', `${out} is not empty and holds no pack: give a new folder (it would be replaced)`);
  const manifest = await folderManifest(src);
  await rm(out, { recursive: true, force: true });
  const t0 = performance.now();
  let last = 0;
  const result = await quantizePack({
    manifest,
    // A manifest's pinned hashes are checked as the files are read.
    open: (path) => fileStream(src, path, manifest.files.find((f) => f.path === path)?.sha256),
  }, folderSink(out), {
    ...(a.id ? { id: a.id } : {}),
    ...(a.name ? { name: a.name } : {}),
    activations: a.activations,
    onProgress: (read, total) => {
      const now = performance.now();
      if (now - last < 1000 && read < total) return;
      last = now;
      process.stderr.write(`\r${(read / 1e6).toFixed(0)} / ${(total / 1e6).toFixed(0)} MB read `);
    },
  });
  process.stderr.write('\n');
  await writeFile(join(out, 'manifest.json'), JSON.stringify(result.manifest, null, 1) + '\n');
  const seconds = (performance.now() - t0) / 1000;
  const summary = {
    in: src, out, id: result.manifest.id, seconds: Math.round(seconds * 10) / 10,
    sourceBytes: manifest.files.reduce((x, f) => x + f.size, 0), packBytes: result.manifest.totalBytes,
    networks: result.reports,
  };
  if (a.json) {
    console.log(JSON.stringify(summary, null, 1));
    return;
  }
  const gb = (n: number) => `${(n / 1e9).toFixed(3)} GB`;
  console.log('| network | source float | weights quantized | kept float | source weights | int8 + scales | float kept | activations |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const [net, r] of Object.entries(result.reports)) {
    console.log(`| ${net} | ${r.sourceFloat} | ${r.quantized} | ${r.keptFloat} | ${gb(r.sourceWeightBytes)} | ${gb(r.int8Bytes)} | ${gb(r.floatBytes)} | ${r.activations} |`);
  }
  console.log(`${gb(summary.sourceBytes)} → ${gb(summary.packBytes)} in ${summary.seconds} s; wrote ${out} (pack id ${summary.id})`);
}

main().catch((e: unknown) => {
  const err = PocketError.from(e);
  console.error(`quantize: ${err.message}`);
  process.exit(err.code === 'bad-request' ? 2 : 1);
});
