// Vitest's global setup: the compatibility tests run on tiny random-weight packs with real SD exports'
// signatures (and numpy's timesteps), which the recipe writes (about a second) into test/fixtures/packs —
// never committed. Written on every run, so that they follow the recipe; `npm run test:unit` (or `npx
// vitest run` on any file) works in a fresh clone, not only under `npm test`. Without Python's packages
// the pure tests still run, and those that need the packs say what is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export default function setup(): void {
  const root = resolve(__dirname, '..');
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const r = spawnSync(python, [resolve(root, 'training/recipe.py'), 'fixtures'], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    console.warn(`\`${python} training/recipe.py fixtures\` failed, so the tests that need the fixture packs will fail:\n${r.stderr.slice(-2000)}\nRun \`npm run setup\` first: it installs Debian's ONNX and NumPy.`);
  }
}
