// The pack manager's stored packs on later visits: loaded from the device without fetching a byte of their
// weights again, their manifests refreshed where only what describes the files changed (a name, example
// prompts), and left as they are when the source offers other files, is unreachable, or the device is offline.
import 'fake-indexeddb/auto';
import { createStore } from 'idb-keyval';
import { describe, expect, it } from 'vitest';
import { ChunkStore } from '../../src/store/chunk-store';
import type { PackManifest } from '../../src/store/manifest';
import { PackManager } from '../../src/store/packs';
import { FakePackServer, makePack } from './fake-pack-server';

const BASE = 'https://models.example/pack/';
let dbCount = 0;

function setup() {
  const { manifest, files } = makePack(`m${dbCount}`, { 'text_encoder/model.onnx': 3000, 'unet/model.onnx': 5000, 'vae_decoder/model.onnx': 2000, 'tokenizer/vocab.json': 200, 'tokenizer/merges.txt': 100 });
  const net = { server: new FakePackServer(BASE, manifest, files), online: true, down: false };
  const store = new ChunkStore(createStore(`packs-db-${dbCount++}`, 'kv'));
  const packs = new PackManager({ base: BASE, online: () => net.online, fetch: (i, init) => (net.down ? Promise.reject(new TypeError('Failed to fetch')) : net.server.fetch(i, init)) }, store);
  return { manifest, files, net, store, packs };
}

describe('a stored pack on a later visit', () => {
  it("takes its source's newer description (example prompts) without fetching its weights again", async () => {
    const { manifest, files, net, store, packs } = setup();
    await packs.ensure(BASE);
    const described = { ...manifest, examplePrompts: ['a red star on a white background'] } as PackManifest;
    net.server = new FakePackServer(BASE, described, files);
    const pack = await packs.ensure(BASE);
    expect(pack.manifest.examplePrompts).toEqual(['a red star on a white background']);
    expect((await store.getPack(manifest.id))!.manifest.examplePrompts).toEqual(['a red star on a white background']);
    expect(net.server.fileRequests()).toEqual([]);
    // the chosen pack (by id) is refreshed the same way
    net.server = new FakePackServer(BASE, { ...described, name: 'Renamed' } as PackManifest, files);
    expect((await packs.active(manifest.id, BASE)).pack.manifest.name).toBe('Renamed');
    expect(net.server.fileRequests()).toEqual([]);
  });

  it('keeps its stored manifest when the source offers other files, is unreachable, or the device is offline', async () => {
    const { manifest, files, net, store, packs } = setup();
    await packs.ensure(BASE);
    const other = { ...manifest, name: 'Another version', files: manifest.files.map((f, i) => (i === 1 ? { ...f, sha256: 'f'.repeat(64) } : f)) } as PackManifest;
    net.server = new FakePackServer(BASE, other, files);
    expect((await packs.ensure(BASE)).manifest.name).toBe(manifest.name);
    expect(net.server.fileRequests()).toEqual([]);
    net.server = new FakePackServer(BASE, { ...manifest, name: 'Unreachable' } as PackManifest, files);
    net.down = true;
    expect((await packs.ensure(BASE)).manifest.name).toBe(manifest.name);
    net.down = false;
    net.online = false;
    net.server = new FakePackServer(BASE, { ...manifest, name: 'Offline' } as PackManifest, files);
    expect((await packs.ensure(BASE)).manifest.name).toBe(manifest.name);
    expect(net.server.requests).toEqual([]);
    expect((await store.getPack(manifest.id))!.manifest.name).toBe(manifest.name);
  });
});
