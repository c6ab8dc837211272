// A pack folder on disk: its manifest (its own manifest.json, or one made from its diffusers ONNX layout)
// and its files as streams.
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative, resolve } from 'node:path';
import type { ByteStream } from '../../src/core/quantize/byte-stream';
import { checkedStream } from '../../src/store/quantize-import';
import { manifestFromLayout, slug } from '../../src/store/diffusers-layout';
import { type PackManifest, parseManifest } from '../../src/store/manifest';

export async function listFiles(root: string, dir = root): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(root, p)));
    else out.push(relative(root, p).split('\\').join('/'));
  }
  return out;
}

/** The folder's manifest: its own, or one made from its diffusers layout (hashes left empty). */
export async function folderManifest(folder: string): Promise<PackManifest> {
  const own = await readFile(join(folder, 'manifest.json'), 'utf8').catch(() => undefined);
  if (own) return parseManifest(JSON.parse(own));
  const listed = await listFiles(folder);
  const name = basename(resolve(folder));
  return manifestFromLayout({
    size: async (p) => (await stat(join(folder, p)).catch(() => undefined))?.size,
    text: async (p) => readFile(join(folder, p), 'utf8').catch(() => undefined),
    list: () => listed,
  }, { id: slug(name), name });
}

/** One of the folder's files, streamed in 4 MiB reads; with a SHA-256, checked over all its bytes on close. */
export async function fileStream(folder: string, path: string, sha256 = ''): Promise<ByteStream> {
  const full = join(folder, path);
  return checkedStream(createReadStream(full, { highWaterMark: 4 << 20 }), (await stat(full)).size, path, sha256);
}
