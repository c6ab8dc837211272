// Vitest's global setup: the compatibility tests run on tiny random-weight packs with real SD exports'
// signatures, which the recipe writes (about a second) into test/fixtures/packs — never committed. So
// `npm run test:unit` (or `npx vitest run` on any file) works in a fresh clone, not only under `npm test`.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(__dirname, '..');
  if (existsSync(resolve(root, 'test/fixtures/packs/index.json'))) return;
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const r = spawnSync(python, [resolve(root, 'training/recipe.py'), 'fixtures'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`\`${python} training/recipe.py fixtures\` failed (the fixture packs the compatibility tests need):\n${r.stdout}${r.stderr}\nRun \`npm run setup\` first: it installs Debian's PyTorch and ONNX.`);
  }
}
