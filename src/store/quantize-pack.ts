// A whole pack to int8: each network through the streaming quantizer (src/core/quantize), the tokenizer
// and scheduler copied, every output file hashed as it is written, and a manifest that pins them. The
// same code runs in the browser (a folder or a download stored as int8 in IndexedDB) and on the command
// line (`npm run quantize`): only the source and the sink differ.
import { createSHA256 } from 'hash-wasm';
import { PocketError } from '../core/errors';
import { type ByteStream, StreamEndedError } from '../core/quantize/byte-stream';
import { QuantizeError, type QuantizeReport, quantizeOnnx } from '../core/quantize/quantize-onnx';
import { externalDataFor, type FileRole, type PackFile, type PackManifest } from './manifest';

const NETWORKS = ['text_encoder', 'unet', 'vae_decoder'] as const;
const DATA_FILE = 'model.onnx_data';

export interface PackSource {
  readonly manifest: PackManifest;
  /** A file of the pack, streamed from its start. */
  open(path: string): Promise<ByteStream>;
}

export interface FileSink {
  write(bytes: Uint8Array): Promise<void>;
  /** Done: the file is complete, with this size and SHA-256 (the sink may now mark it verified). */
  close(written: Hashed): Promise<void>;
}

export interface PackSink {
  create(path: string): Promise<FileSink>;
}

export interface QuantizePackOptions {
  readonly id?: string;
  readonly name?: string;
  readonly activations?: 'float32' | 'source';
  readonly signal?: AbortSignal;
  /** Source bytes read, of the pack's total. */
  readonly onProgress?: (read: number, total: number) => void;
}

export interface QuantizePackResult {
  readonly manifest: PackManifest;
  readonly reports: Readonly<Record<(typeof NETWORKS)[number], QuantizeReport>>;
}

export interface Hashed {
  readonly size: number;
  readonly sha256: string;
}

/** A sink that hashes what goes through it. */
async function hashing(sink: FileSink): Promise<{ write(b: Uint8Array): Promise<void>; close(): Promise<Hashed> }> {
  const hasher = await createSHA256();
  let size = 0;
  return {
    async write(b) {
      hasher.update(b);
      size += b.length;
      await sink.write(b);
    },
    async close() {
      const done = { size, sha256: hasher.digest('hex') };
      await sink.close(done);
      return done;
    },
  };
}

export async function quantizePack(source: PackSource, sink: PackSink, opts: QuantizePackOptions = {}): Promise<QuantizePackResult> {
  const m = source.manifest;
  const files: PackFile[] = [];
  const total = m.files.reduce((a, f) => a + f.size, 0);
  let done = 0;
  const report = (read: number) => opts.onProgress?.(done + read, total);
  const reports: Partial<Record<(typeof NETWORKS)[number], QuantizeReport>> = {};
  for (const net of NETWORKS) {
    const modelFile = m.files.find((f) => f.role === net);
    if (!modelFile) throw new PocketError('model-incompatible', `This model has no ${net} network.`);
    const externals = externalDataFor(m, net);
    // The data file is created with its first bytes: a network whose weights all fit in its graph has none.
    let data: Awaited<ReturnType<typeof hashing>> | undefined;
    const opened: ByteStream[] = [];
    let reading = modelFile.path;
    const open = async (path: string) => {
      reading = path;
      const s = await source.open(path);
      opened.push(s);
      return s;
    };
    let result;
    try {
      result = await quantizeOnnx(await open(modelFile.path), async (b) => {
        data ??= await hashing(await sink.create(`${net}/${DATA_FILE}`));
        await data.write(b);
      }, {
        dataFile: DATA_FILE,
        activations: opts.activations ?? 'float32',
        ...(opts.signal ? { signal: opts.signal } : {}),
        onProgress: report,
        openExternal: async (location) => {
          const ext = externals.find((e) => e.name === location);
          if (!ext) throw new PocketError('model-incompatible', `The ${net} network keeps its weights in ${location}, which this model does not include.`);
          return open(ext.file.path);
        },
      });
      // Every source file closed: a checked source verifies its hash here, over the bytes past the last weight too.
      for (const s of opened.splice(0)) await s.close();
    } catch (e) {
      // A source that fails its hash says more than the parse error its damage caused.
      for (const s of opened.splice(0)) {
        try {
          await s.close();
        } catch (closing) {
          if (closing instanceof PocketError && closing.code === 'integrity') throw closing;
        }
      }
      if (e instanceof QuantizeError) throw new PocketError('model-incompatible', `The ${net} network cannot be stored as int8: ${e.message}.`);
      if (e instanceof StreamEndedError) throw new PocketError('integrity', `The ${net} network cannot be stored as int8: ${reading} ${e.message.replace(/^the file /, '')} — the file is damaged or incomplete.`, { file: reading });
      throw e;
    }
    const dataHash = data ? await data.close() : { size: 0, sha256: '' };
    const model = await hashing(await sink.create(`${net}/model.onnx`));
    await model.write(result.model);
    files.push({ path: `${net}/model.onnx`, role: net, ...(await model.close()) });
    if (dataHash.size > 0) files.push({ path: `${net}/${DATA_FILE}`, role: 'external_data', for: net, ...dataHash });
    reports[net] = result.report;
    done += modelFile.size + externals.reduce((a, e) => a + e.file.size, 0);
  }
  for (const f of m.files.filter((x) => !NETWORKS.includes(x.role as (typeof NETWORKS)[number]) && x.role !== 'external_data')) {
    files.push(await copy(source, sink, f, opts.signal));
    done += f.size;
    report(0);
  }
  const manifest: PackManifest = {
    ...m,
    id: opts.id ?? `${m.id}-int8`,
    name: opts.name ?? `${m.name} (int8)`,
    files,
    totalBytes: files.reduce((a, f) => a + f.size, 0),
  };
  return { manifest, reports: reports as QuantizePackResult['reports'] };
}

async function copy(source: PackSource, sink: PackSink, f: PackFile, signal?: AbortSignal): Promise<PackFile> {
  const from = await source.open(f.path);
  const to = await hashing(await sink.create(f.path));
  while (from.position < from.size) {
    signal?.throwIfAborted();
    await to.write(await from.read(Math.min(4 << 20, from.size - from.position)));
  }
  await from.close();
  const role: FileRole = f.role;
  return { path: f.path, role, ...(await to.close()) };
}
