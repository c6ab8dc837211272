// Tuning the run: presets and seed modes round-trip into the request, progress carries a live preview.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { psnr } from '../test/image-checks';
import { expect, test } from './app-page';

test('presets and the +1 seed mode round-trip into the request', async ({ app, page }) => {
  await app.set({ backend: 'wasm', prompt: 'a red circle on a blue background', seed: 5 });
  await page.locator('[data-steps="4"]').click();
  await page.locator('[data-size="512x512"]').click();
  await page.locator('#seed-mode').selectOption('increment');
  await app.generate();
  // above the pack's layout size (128×128), two passes: sketched at 128×128, finished at 512×512
  await expect(page.locator('#settings')).toContainText('512×512 (two passes, from 128×128) · 4 steps');
  await expect(page.locator('#verdict')).toContainText('for 4 steps at 128×128, then 2 at 512×512 (two passes)');
  await expect(page.locator('#settings')).toContainText('seed 5');
  await expect(page.locator('#seed')).toHaveValue('6');
  await expect(page.locator('#progress-text')).toHaveText(/^Done in [\d.]+ s \([\d.]+ steps\/s\)\.$/);
  await expect(page.locator('#timings')).toContainText('Overhead');
});

test('the built-in pack opens at its default size, and says beside the size how it draws there and at another', async ({ app, page }) => {
  expect(await app.backendInUse()).toContain('WASM');
  // its manifest: layoutSize 128x128 (the layout lineage composes at 128 px, where it binds two objects'
  // colours), its default size 256×256 — drawn in two passes, as every size the app offers
  await expect(page.locator('#width')).toHaveValue('256');
  await expect(page.locator('#height')).toHaveValue('256');
  await expect(page.locator('#size-note')).toHaveText('Two passes: this model learned to compose pictures at 128×128, so 256×256 is sketched at 128×128 (20 steps), then enlarged and redrawn (8 more steps): its best pictures at this size.');
  await expect(page.locator('#two-pass-field')).toBeVisible();
  await page.locator('[data-size="512x512"]').click();
  await expect(page.locator('#two-pass')).toBeChecked();
  const note = 'Two passes: this model learned to compose pictures at 128×128, so 512×512 is sketched at 128×128 (20 steps), then enlarged and redrawn (8 more steps): its best pictures at this size.';
  await expect(page.locator('#size-note')).toHaveText(note);
  const colour = () => page.locator('#size-note').evaluate((el) => getComputedStyle(el).color);
  expect(await colour()).toBe('rgb(232, 232, 238)'); // what it does best: said, not warned about
  // one pass, if the person wants it: the note says what that risks, in the warning colour, and the choice is kept
  await page.locator('#two-pass').uncheck();
  await expect(page.locator('#size-note')).toHaveText('One pass at 512×512: this model learned to compose pictures at 128×128, so it may repeat objects or follow the prompt less well. "Two passes" gives its best pictures at this size.');
  expect(await colour()).toBe('rgb(255, 210, 122)');
  await page.reload();
  await app.ready();
  await expect(page.locator('#two-pass')).not.toBeChecked();
  await page.locator('#two-pass').check();
  await expect(page.locator('#size-note')).toHaveText(note);
  await expect(page.locator('#width')).toHaveAccessibleDescription(note);
  // under the Width and Height row, where the person changing the size is looking, in the warning colour
  const box = async (sel: string) => (await page.locator(sel).boundingBox())!;
  const [width, height, shown] = [await box('#width'), await box('#height'), await box('#size-note')];
  expect(shown.y).toBeGreaterThanOrEqual(Math.max(width.y + width.height, height.y + height.height));
  expect(shown.y - (height.y + height.height)).toBeLessThan(48);
  await page.locator('#height').selectOption('256');
  await expect(page.locator('#size-note')).toContainText('512×256 is sketched at 128×64');
  // a size the person chose is theirs on the next visit, with its note
  await page.reload();
  await app.ready();
  await expect(page.locator('#width')).toHaveValue('512');
  await expect(page.locator('#height')).toHaveValue('256');
  await expect(page.locator('#size-note')).toContainText('512×256 is sketched at 128×64');
  // a 3:2 picture is sketched 3:2 (192×128), not squashed into the layout's square
  await page.locator('[data-size="768x512"]').click();
  await expect(page.locator('#size-note')).toContainText('768×512 is sketched at 192×128');
  await page.locator('[data-size="256x256"]').click();
  await expect(page.locator('#size-note')).toContainText('256×256 is sketched at 128×128');
  // a width and height saved before sizes were kept only when chosen (every visit saved 512×512) are not
  // a choice: the pack's own size applies
  await page.evaluate(() => localStorage.setItem('pocket-diffusion.settings', JSON.stringify({ prompt: 'a red circle', width: '512', height: '512' })));
  await page.reload();
  await app.ready();
  await expect(page.locator('#prompt')).toHaveValue('a red circle');
  await expect(page.locator('#width')).toHaveValue('256');
  await expect(page.locator('#size-note')).toContainText('256×256 is sketched at 128×128');
});

test('the prompts the model draws well are offered under Generate; a tap puts one in the prompt box, kept', async ({ app, page }) => {
  const { examplePrompts } = JSON.parse(readFileSync(resolve('public/models/shapes-int8/manifest.json'), 'utf8')) as { examplePrompts: string[] };
  expect(examplePrompts.length).toBeGreaterThanOrEqual(3);
  const offered = page.locator('#prompt-examples button');
  await expect(offered).toHaveText(examplePrompts);
  await expect(page.getByRole('group', { name: 'prompts this model draws well' })).toBeVisible();
  await offered.nth(1).click();
  await expect(page.locator('#prompt')).toHaveValue(examplePrompts[1]!);
  await expect(page.locator('#prompt')).toBeFocused();
  await page.reload();
  await app.ready();
  await expect(page.locator('#prompt')).toHaveValue(examplePrompts[1]!);
});

test('a live preview of the latents appears while denoising', async ({ app, page }) => {
  await app.set({ backend: 'wasm', prompt: 'a red circle on a blue background', steps: 30, width: 512, height: 512 });
  await page.locator('#generate').click();
  await expect(page.locator('#preview')).toBeVisible();
  await expect(page.locator('#output')).toHaveAttribute('aria-busy', 'true');
  // where the picture will be, at its size, standing in for the placeholder
  await expect(page.locator('#output > #preview')).toBeVisible();
  await expect(page.locator('#placeholder')).toBeHidden();
  expect((await page.locator('#preview').boundingBox())!.width).toBeGreaterThan(300);
  await expect(page.locator('#progress-text')).toContainText(/^Step \d+ of \d+ \((sketch|redraw)\) · [\d.]+ s · about [\d.]+ s left$/);
  // one preview pixel per latent pixel: 16×16 while the picture is sketched at 128×128, 64×64 once at 512×512
  const size = () => page.locator('#preview').evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  await expect(page.locator('#progress-text')).toContainText('(sketch)');
  expect(await size()).toEqual([16, 16]);
  await expect(page.locator('#progress-text')).toContainText('(redraw)', { timeout: 200_000 });
  await expect.poll(size, { timeout: 60_000 }).toEqual([64, 64]);
  await expect(page.locator('#output')).toHaveAttribute('data-generation', '1', { timeout: 200_000 });
  await expect(page.locator('#preview')).toBeHidden();
  await expect(page.locator('#image')).toBeVisible();
  await expect(page.locator('#output')).not.toHaveAttribute('aria-busy', 'true');
});

test('asked for, the preview is a full VAE decode at the image\'s size', async ({ app, page }) => {
  await app.set({ backend: 'wasm', prompt: 'a red circle on a blue background', steps: 30, width: 256, height: 256 });
  await page.locator('#preview-vae').check();
  await page.locator('#generate').click();
  await expect(page.locator('#preview')).toBeVisible();
  // the latents at hand, decoded: the sketch's size while 256×256 is sketched at 128×128, the picture's in the redraw
  const size = () => page.locator('#preview').evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  await expect(page.locator('#progress-text')).toContainText('(sketch)');
  expect(await size()).toEqual([128, 128]);
  await expect(page.locator('#progress-text')).toContainText('(redraw)', { timeout: 200_000 });
  await expect.poll(size, { timeout: 60_000 }).toEqual([256, 256]);
  await expect(page.locator('#output')).toHaveAttribute('data-generation', '1', { timeout: 200_000 });
});

test('the comparison grid fills with one image per step count, each with its time', async ({ app, page }) => {
  await app.set({ backend: 'wasm', prompt: 'a red circle on a blue background', width: 256, height: 256, seed: 2 });
  await page.locator('#compare-mode').selectOption('steps');
  await page.locator('#compare-run').click();
  await expect(page.locator('#compare-status')).toHaveText('Done: 5 images.', { timeout: 200_000 });
  const captions = await page.locator('#compare-grid figcaption').allTextContents();
  expect(captions.map((c) => c.split(' · ')[0])).toEqual(['1 step', '4 steps', '8 steps', '20 steps', '50 steps']);
  // 1 step is drawn in one pass (too few to split), the others from a 128×128 sketch
  expect(captions[0]).toMatch(/^1 step · 256×256 · [\d.]+ s$/);
  for (const c of captions.slice(1)) expect(c).toMatch(/256×256 \(two passes, from 128×128\) · [\d.]+ s$/);
});

test('history keeps images with their settings across a reload; re-run and delete work', async ({ app, page }) => {
  await app.generate({ backend: 'wasm', prompt: 'a green square on a white background', steps: 3, width: 256, height: 256, seed: 11 });
  const items = page.locator('#history-list .history-item');
  await expect(items).toHaveCount(1);
  await page.reload();
  await app.ready();
  await expect(items).toHaveCount(1);
  await expect(items.first()).toContainText('“a green square on a white background” · 256×256 (two passes, from 128×128) · 3 steps');
  await expect(items.first()).toContainText('seed 11');
  await expect(items.first()).toContainText('· DDIM ·'); // as the result's caption names it
  await page.locator('#prompt').fill('something else');
  await page.locator('#scheduler').selectOption('euler');
  await items.first().getByRole('button', { name: /Re-run/ }).click();
  await expect(page.locator('#scheduler-help')).toHaveText(/^DDIM: /); // (the entry's sampler, with its line)
  await expect(page.locator('#output')).toHaveAttribute('data-generation', '1', { timeout: 200_000 });
  await expect(page.locator('#prompt')).toHaveValue('a green square on a white background');
  await expect(items).toHaveCount(2);
  await items.first().getByRole('button', { name: /Delete/ }).click();
  await expect(items).toHaveCount(1);
});

test('on a phone-sized screen nothing scrolls sideways and the device report names the backend', async ({ app, page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await expect(page.locator('#generate')).toBeVisible();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await page.locator('#device summary').click();
  await expect(page.locator('#device-report')).toContainText('WASM threads');
  await expect(page.locator('#device-report')).toContainText('Cross-origin isolated');
});

test('decoding in tiles gives nearly the same picture (PSNR ≥ 30 dB at 512²)', async ({ app, page }) => {
  // one step: what is compared is the VAE's decode of the same latents, whole and in tiles
  const s = { backend: 'wasm' as const, prompt: 'a red circle on a blue background', steps: 1, width: 512, height: 512, seed: 4 };
  const whole = await app.generate(s);
  await page.locator('#tiled-vae').check();
  const tiled = await app.generate(s);
  const db = psnr(Uint8ClampedArray.from(whole.pixels), Uint8ClampedArray.from(tiled.pixels));
  expect(db).toBeGreaterThanOrEqual(30);
  expect(db).toBeLessThan(Infinity);
});

test('the cost model is read once per run, not on every denoising step', async ({ app, page }) => {
  await app.set({ backend: 'wasm', prompt: 'a red circle on a blue background', steps: 5, width: 256, height: 256 });
  await app.generate(); // a first run, so that a cost model exists to be read
  await page.evaluate(() => {
    const w = window as unknown as { costReads: number };
    w.costReads = 0;
    const get = Storage.prototype.getItem;
    Storage.prototype.getItem = function (key: string) {
      if (key.startsWith('pocket-diffusion.cost.')) w.costReads++;
      return get.call(this, key);
    };
  });
  await app.generate();
  // as the run starts (progress' time left), then folding the finished run in and the estimate it
  // updates: three for a 5-step run (it was one more per step)
  const reads = await page.evaluate(() => (window as unknown as { costReads: number }).costReads);
  expect(reads).toBeGreaterThanOrEqual(1); // the spy sees the key the page uses
  expect(reads).toBeLessThanOrEqual(3);
});

test('Guidance and Scheduler say what they do, under the fields; the sampler\'s line follows the choice', async ({ app, page }) => {
  await expect(page.locator('#guidance')).toHaveAccessibleDescription('How closely the picture follows the prompt; 1 is off (twice as fast).');
  // under the field itself, in its column (it read as the step presets' when it stood under them)
  const [field, line] = [(await page.locator('#guidance').boundingBox())!, (await page.locator('#guidance-help').boundingBox())!];
  expect(line.y).toBeGreaterThanOrEqual(field.y + field.height);
  expect(line.y - (field.y + field.height)).toBeLessThan(12);
  expect(Math.abs(line.x - field.x)).toBeLessThan(2);
  await expect(page.locator('#guidance')).toHaveValue('3'); // (the built-in pack's, chosen by measurement; not SD's 7.5)
  const help = page.locator('#scheduler-help');
  // the list marks the loaded model's own sampler, and only it (PNDM was labelled "SD 1.5 default" beside it)
  await expect(page.locator('#scheduler option[value="ddim"]')).toHaveText('DDIM · default');
  await expect(page.locator('#scheduler option', { hasText: 'default' })).toHaveCount(1);
  await expect(help).toHaveText('DDIM: keeps a seed\'s layout as steps change; holds up at 10–20 steps.');
  await page.locator('#scheduler').selectOption('lcm');
  await expect(help).toHaveText('LCM: for LCM / LCM-LoRA models only: 2–8 steps, guidance 1–2.');
  await expect(page.locator('#scheduler')).toHaveAccessibleDescription(/^LCM: for LCM \/ LCM-LoRA/);
  // every sampler's line fits the room kept for it: choosing one never moves what is under it
  const under = async () => (await page.locator('#backend-note').boundingBox())!.y;
  const at = await under();
  for (const name of await page.locator('#scheduler option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))) {
    await page.locator('#scheduler').selectOption(name);
    expect(await under(), name).toBe(at);
  }
  await page.locator('#scheduler').selectOption('lcm');
  // a chosen sampler is kept, and so is its line
  await page.reload();
  await app.ready();
  await expect(help).toHaveText(/^LCM: /);
});
