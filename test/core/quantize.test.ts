// The streaming int8 quantizer (src/core/quantize) on the fixture packs' networks (real SD exports'
// signatures, training/shapes/fixtures.py): the same bytes as the recipe's own quantizer, any chunking,
// fp16 graphs made float32, and bad input refused with a message.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ByteStream, chunksOf } from '../../src/core/quantize/byte-stream';
import { dequantize, floatValues, quantizePerChannel } from '../../src/core/quantize/int8';
import { DataType, EXTERNAL, type Model, type Node, type Tensor, decodeModel, encodeModel, num } from '../../src/core/quantize/onnx-proto';
import { QuantizeError, quantizeOnnx } from '../../src/core/quantize/quantize-onnx';
import { REPO } from '../shared';

const FIXTURES = resolve(REPO, 'test/fixtures/packs');
const bytes = (p: string) => new Uint8Array(readFileSync(resolve(FIXTURES, p)));
const stream = (b: Uint8Array, chunk = 4 << 20) => new ByteStream(chunksOf(b, chunk), b.length);

/** Quantize a fixture network; returns the output model, its data file, and the report. */
async function quantize(pack: string, net: string, chunk = 4 << 20, activations: 'float32' | 'source' = 'float32') {
  const parts: Uint8Array[] = [];
  const { model, report } = await quantizeOnnx(stream(bytes(`${pack}/${net}/model.onnx`), chunk), async (b) => { parts.push(b.slice()); }, {
    dataFile: 'model.onnx_data',
    activations,
    openExternal: async (location) => stream(bytes(`${pack}/${net}/${location}`), chunk),
  });
  const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { model: decodeModel(model), bytes: model, data, report };
}

/** A tensor's bytes, inline or from the output's data file. */
function tensorBytes(t: Tensor, data: Uint8Array): Uint8Array {
  if (t.data_location !== EXTERNAL) return t.raw_data!;
  const get = (k: string) => Number(t.external_data!.find((e) => e.key === k)!.value);
  return data.subarray(get('offset'), get('offset') + get('length'));
}

const inits = (m: Model) => new Map((m.graph!.initializer ?? []).map((t) => [t.name!, t]));

describe('quantizeOnnx', () => {
  it.each(['text_encoder', 'unet', 'vae_decoder'])('gives the %s the same int8 weights and scales as the recipe\'s quantizer', async (net) => {
    const ours = await quantize('sd15-diffusers', net);
    const reference = decodeModel(bytes(`quantized-reference/sd15-diffusers/${net}.onnx`));
    const mine = inits(ours.model);
    const theirs = inits(reference);
    // ours adds one small tensor per embedding table (the axes its rows' scales are unsqueezed on)
    expect([...mine.keys()].filter((k) => !k.endsWith('_rows_axes')).sort()).toEqual([...theirs.keys()].sort());
    for (const [name, t] of theirs) {
      const m = mine.get(name)!;
      expect(m.data_type, name).toBe(t.data_type);
      expect((m.dims ?? []).map(num), name).toEqual((t.dims ?? []).map(num));
      expect(Buffer.from(tensorBytes(m, ours.data)).equals(Buffer.from(tensorBytes(t, new Uint8Array(0)))), name).toBe(true);
    }
    // DequantizeLinear for every quantized weight but the tables read only by Gather (read row by row instead)
    const gathered = new Set((ours.model.graph!.node ?? []).filter((n) => n.name?.endsWith('_rows')).map((n) => n.input![0]!.replace(/_quantized$/, '')));
    const dq = (m: Model) => (m.graph!.node ?? []).filter((n) => n.op_type === 'DequantizeLinear' && !gathered.has(n.output![0]!)).map((n) => [n.input, n.output, num(n.attribute![0]!.i)]);
    expect(dq(ours.model)).toEqual(dq(reference));
    expect(gathered.size).toBe(net === 'text_encoder' ? 1 : 0);
  });

  it('reads its source in any chunking and writes the same bytes (64-byte pieces as well as 4 MiB)', async () => {
    const big = await quantize('sd15-diffusers', 'unet');
    const small = await quantize('sd15-diffusers', 'unet', 64);
    expect(Buffer.from(small.bytes).equals(Buffer.from(big.bytes))).toBe(true);
    expect(Buffer.from(small.data).equals(Buffer.from(big.data))).toBe(true);
    expect(big.report).toMatchObject({ quantized: 1, sourceFloat: 'float32', activations: 'float32' });
  });

  it('rewrites an fp16 export as a float32 graph with int8 weights: no fp16 tensor, input or output is left', async () => {
    for (const net of ['text_encoder', 'unet', 'vae_decoder']) {
      const { model, report } = await quantize('sd15-optimum-fp16', net);
      expect(report).toMatchObject({ sourceFloat: 'float16', activations: 'float32' });
      const g = model.graph!;
      for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.value_info ?? [])]) expect(v.type?.tensor_type?.elem_type, `${net} ${v.name}`).not.toBe(DataType.FLOAT16);
      for (const t of g.initializer ?? []) expect(t.data_type, `${net} ${t.name}`).not.toBe(DataType.FLOAT16);
      for (const n of g.node ?? []) {
        for (const a of n.attribute ?? []) {
          if (n.op_type === 'Cast' && a.name === 'to') expect(num(a.i), `${net} ${n.name}`).not.toBe(DataType.FLOAT16);
          if (a.t) expect(a.t.data_type).not.toBe(DataType.FLOAT16);
        }
      }
    }
  });

  it('keeps an fp16 graph fp16 when asked: a Cast after each DequantizeLinear and after each table\'s scaled rows', async () => {
    const unet = (await quantize('sd15-optimum-fp16', 'unet', 4 << 20, 'source')).model;
    expect((await quantize('sd15-optimum-fp16', 'unet', 4 << 20, 'source')).report.activations).toBe('float16');
    const castAfter = (nodes: Node[], out: string) => num(nodes.find((n) => n.op_type === 'Cast' && n.input?.[0] === out)?.attribute?.[0]?.i);
    const dq = unet.graph!.node!.filter((n) => n.op_type === 'DequantizeLinear');
    expect(dq.length).toBeGreaterThan(0);
    for (const d of dq) expect(castAfter(unet.graph!.node!, d.output![0]!)).toBe(DataType.FLOAT16);
    const text = (await quantize('sd15-optimum-fp16', 'text_encoder', 4 << 20, 'source')).model.graph!.node!;
    const scaled = text.filter((n) => n.name?.endsWith('_rows_scaled'));
    expect(scaled.length).toBe(1);
    expect(castAfter(text, scaled[0]!.output![0]!)).toBe(DataType.FLOAT16);
  });

  it('reads an embedding table row by row: the same outputs as DequantizeLinear then Gather, bit for bit, and no float table', async () => {
    const ours = await quantize('sd15-diffusers', 'text_encoder');
    const g = ours.model.graph!;
    expect(g.node!.some((n) => n.op_type === 'DequantizeLinear' && n.output![0] === 'token_embedding')).toBe(false);
    const { createRuntime } = await import('../../src/runtime/ort-runtime');
    const { WASM_BINARY } = await import('../../scripts/lib/node-engine');
    const { hostTensor } = await import('../../src/core/pipeline/model-session');
    const runtime = await createRuntime({ backend: 'wasm', wasmBinary: readFileSync(WASM_BINARY), numThreads: 1 });
    const mine = await runtime.createSession(ours.bytes, 'ours', [], [{ path: 'model.onnx_data', data: ours.data }]);
    const theirs = await runtime.createSession(bytes('quantized-reference/sd15-diffusers/text_encoder.onnx'), 'reference');
    const ids = hostTensor('int32', Int32Array.from({ length: 77 }, (_, i) => (i * 613 + 49406) % 49408), [1, 77]);
    const a = (await mine.run({ input_ids: ids })).last_hidden_state!;
    const b = (await theirs.run({ input_ids: ids })).last_hidden_state!;
    if (a.location !== 'cpu' || b.location !== 'cpu') throw new Error('expected host tensors');
    expect(Buffer.from(a.data.buffer).equals(Buffer.from(b.data.buffer))).toBe(true);
    await mine.release();
    await theirs.release();
  });

  it('refuses a truncated weight file with where it ends, and an opset-12 model with what to do', async () => {
    const full = bytes('sd15-diffusers/unet/weights.pb');
    await expect(quantizeOnnx(stream(bytes('sd15-diffusers/unet/model.onnx')), async () => undefined, {
      dataFile: 'x', openExternal: async () => stream(full.subarray(0, full.length - 100)),
    })).rejects.toThrow(/the file ends early/);
    const m = decodeModel(bytes('sd15-diffusers/vae_decoder/model.onnx'));
    m.opset_import = [{ domain: '', version: 12 }];
    const old = encodeModel(m);
    await expect(quantizeOnnx(stream(old), async () => undefined, { dataFile: 'x' })).rejects.toThrow(QuantizeError);
    await expect(quantizeOnnx(stream(old), async () => undefined, { dataFile: 'x' })).rejects.toThrow(/opset 12.*re-export/);
    await expect(quantizeOnnx(stream(bytes('sd15-diffusers/tokenizer/merges.txt')), async () => undefined, { dataFile: 'x' })).rejects.toThrow();
  });

  it('stops when its signal is aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(quantizeOnnx(stream(bytes('sd15-diffusers/text_encoder/model.onnx')), async () => undefined, { dataFile: 'x', signal: ac.signal }))
      .rejects.toThrow(/abort/i);
  });
});

describe('int8 arithmetic', () => {
  it('rounds half to even like numpy, keeps ±127 and gives an all-zero channel scale 1', () => {
    const w = new Float32Array([1, -1, 0.5, 0, 0, 0]); // channel 0: max 1 → scale 1/127; channel 1: zeros
    const { q, scale } = quantizePerChannel(w, [2, 3], 0);
    expect(scale[1]).toBe(1);
    expect([...q.subarray(0, 3)]).toEqual([127, -127, 64]); // 63.5 → 64 (even)
    const back = dequantize({ q, scale }, [2, 3], 0);
    expect(Math.abs(back[2]! - 0.5)).toBeLessThan(scale[0]!);
  });

  it('reads float16 bytes at any offset', () => {
    const half = new Uint8Array([0, 0, 0x00, 0x3c, 0x00, 0xc0]); // 0, 1, -2 (little-endian)
    expect([...floatValues(half.subarray(0, 6), true)]).toEqual([0, 1, -2]);
    const odd = new Uint8Array(7);
    odd.set(half, 1);
    expect([...floatValues(odd.subarray(1), true)]).toEqual([0, 1, -2]);
  });
});

describe('quantizeOnnx on damaged bytes', () => {
  it('says the file is damaged instead of failing inside the protobuf decoder', async () => {
    const b = bytes('sd15-diffusers/text_encoder/model.onnx').slice();
    b.fill(0xff, b.length - 40); // the graph's tail (its inputs, outputs and the opsets) overwritten
    await expect(quantizeOnnx(stream(b), async () => undefined, { dataFile: 'x' })).rejects.toThrow(QuantizeError);
  });

  it('drops a quantized weight from the graph inputs where an export lists its weights as inputs too', async () => {
    const m = decodeModel(bytes('sd15-diffusers/text_encoder/model.onnx'));
    const g = m.graph!;
    g.input = [...(g.input ?? []), ...(g.initializer ?? []).map((t) => ({ name: t.name!, type: { tensor_type: { elem_type: t.data_type! } } }))];
    const parts: Uint8Array[] = [];
    const { model } = await quantizeOnnx(stream(encodeModel(m)), async (b) => { parts.push(b.slice()); }, { dataFile: 'model.onnx_data' });
    const out = decodeModel(model);
    const inputs = (out.graph!.input ?? []).map((v) => v.name);
    expect(inputs).toContain('input_ids');
    expect(inputs).not.toContain('token_embedding'); // now DequantizeLinear's output
    const { createRuntime } = await import('../../src/runtime/ort-runtime');
    const { WASM_BINARY } = await import('../../scripts/lib/node-engine');
    const runtime = await createRuntime({ backend: 'wasm', wasmBinary: readFileSync(WASM_BINARY), numThreads: 1 });
    const session = await runtime.createSession(model, 'text encoder', [], [{ path: 'model.onnx_data', data: Buffer.concat(parts) }]);
    expect(session.inputs.map((i) => i.name)).toEqual(['input_ids']);
    await session.release();
  });
});
