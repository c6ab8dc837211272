// What a pack draws for one prompt across seeds, judged by the recipe's own rules (test/image-checks.ts
// judgeObjects, the port the browser tests use): the app's engine on onnxruntime-web's WASM backend in Node,
// as `npm run generate` runs it. It is how the browser tests' prompts and seeds are chosen — one that the
// pack draws right, measured, not hoped for.
//
//   npx tsx scripts/judge-seeds.ts --prompt "a yellow star on a blue background" --want yellow/star/blue \
//       [--seeds 0-23] [--width 256 --height 256 --steps 20 --scheduler ddim --guidance (the pack's)] [--one-pass] [--whole] [--json]
//
// Above the pack's layout size (its image.layoutSize) pictures are drawn in two passes, as the app draws them;
// --one-pass draws them in one. For several objects, --want red/star+blue/circle/white (in any order). A prompt that names two or three objects is drawn with regional prompts where the
// pack says so (image.regions); --whole draws it from the prompt whole.
//
// The judge's tables come from test/fixtures/packs/shape-judge/judge.json (`python3 training/recipe.py fixtures`).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { judgeObjects, type JudgeTables } from '../test/image-checks';
import { nodeEngine } from './lib/node-engine';

const { values: a } = parseArgs({
  options: {
    prompt: { type: 'string', default: 'a yellow star on a blue background' },
    want: { type: 'string', default: '' },
    seeds: { type: 'string', default: '0-23' },
    steps: { type: 'string', default: '20' },
    width: { type: 'string', default: '256' },
    height: { type: 'string', default: '256' },
    guidance: { type: 'string' },
    scheduler: { type: 'string', default: 'ddim' },
    pack: { type: 'string', default: 'public/models/shapes-int8' },
    threads: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
    'one-pass': { type: 'boolean', default: false },
    whole: { type: 'boolean', default: false },
  },
});

function seedList(spec: string): number[] {
  return spec.split(',').flatMap((part) => {
    const [lo, hi] = part.split('-').map(Number);
    if (!Number.isInteger(lo) || (hi !== undefined && !Number.isInteger(hi))) throw new Error(`--seeds: "${spec}" is not like 0-23 or 1,5,9`);
    return hi === undefined ? [lo!] : Array.from({ length: hi - lo! + 1 }, (_, k) => lo! + k);
  });
}

async function main(): Promise<void> {
  const tables: JudgeTables = JSON.parse(readFileSync(resolve('test/fixtures/packs/shape-judge/judge.json'), 'utf8'));
  // --want colour/shape/background, or for several objects colour/shape+colour/shape/background (any order drawn)
  const parts = a.want ? a.want.split('+').map((p) => p.split('/')) : [];
  const wanted = parts.map(([c, s]) => `${c ?? ''} ${s ?? ''}`).sort();
  const background = parts.at(-1)?.[2];
  const [colour, shape] = parts.length === 1 ? parts[0]! : [];
  const engine = await nodeEngine({ threads: Number(a.threads) });
  const info = await engine.load({ packId: resolve(a.pack), backend: 'wasm' });
  const guidance = a.guidance !== undefined ? Number(a.guidance) : info.defaults.guidanceScale;
  const rows = [];
  for (const seed of seedList(a.seeds)) {
    const r = await engine.generate({
      prompt: a.prompt, negativePrompt: '', steps: Number(a.steps), width: Number(a.width), height: Number(a.height),
      seed, guidanceScale: guidance, scheduler: a.scheduler, twoPass: !a['one-pass'], ...(a.whole ? { regions: false } : {}),
    });
    const v = judgeObjects(tables, r.pixels, r.width, r.height);
    const first = v.objects[0];
    const seen = v.objects.map((o) => `${o.colour} ${o.shape}`).sort();
    const right = parts.length > 1
      ? { objects: seen.join() === wanted.join(), background: !background || v.background === background }
      : {
          colour: !colour || first?.colour === colour, shape: !shape || first?.shape === shape,
          background: !background || v.background === background, count: v.objects.length === 1,
        };
    rows.push({ seed, background: v.background, objects: v.objects.map((o) => ({ ...o, cx: +o.cx.toFixed(3), cy: +o.cy.toFixed(3) })), right });
    if (!a.json) {
      const seen = v.objects.map((o) => `${o.colour} ${o.shape}`).join(' + ') || '(nothing)';
      console.log(`seed ${String(seed).padStart(3)} | ${v.background.padEnd(7)} | ${seen.padEnd(28)} | ${Object.values(right).every(Boolean) ? 'right' : 'wrong'}`);
    }
  }
  const all = rows.filter((r) => Object.values(r.right).every(Boolean)).map((r) => r.seed);
  const summary = { prompt: a.prompt, width: Number(a.width), height: Number(a.height), twoPass: !a['one-pass'], steps: Number(a.steps), scheduler: a.scheduler, guidance, want: a.want, right: all.length, of: rows.length, seedsRight: all };
  console.log(a.json ? JSON.stringify({ ...summary, rows }, null, 1) : `${all.length} of ${rows.length} right (seeds ${all.join(', ')})`);
  await engine.dispose();
}

main().catch((e: unknown) => { console.error(`judge-seeds: ${e instanceof Error ? e.message : String(e)}`); process.exit(1); });
