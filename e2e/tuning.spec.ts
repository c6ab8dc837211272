// Tuning the run: presets and seed modes round-trip into the request, progress carries a live preview.
import { expect, test } from './app-page';

test('presets and the +1 seed mode round-trip into the request', async ({ app, page }) => {
  await app.set({ backend: 'wasm', prompt: 'a red circle on a blue background', seed: 5 });
  await page.locator('[data-steps="4"]').click();
  await page.locator('[data-size="256x256"]').click();
  await page.locator('#seed-mode').selectOption('increment');
  await app.generate();
  await expect(page.locator('#settings')).toContainText('256×256 · 4 steps');
  await expect(page.locator('#settings')).toContainText('seed 5');
  await expect(page.locator('#seed')).toHaveValue('6');
  await expect(page.locator('#verdict')).toContainText('it/s');
  await expect(page.locator('#timings')).toContainText('Overhead');
});

test('a live preview of the latents appears while denoising', async ({ app, page }) => {
  await app.set({ backend: 'wasm', prompt: 'a red circle on a blue background', steps: 30, width: 512, height: 512 });
  await page.locator('#generate').click();
  await expect(page.locator('#preview')).toBeVisible();
  await expect(page.locator('#progress-text')).toContainText(/it\/s · about [\d.]+ s left/);
  const size = await page.locator('#preview').evaluate((c: HTMLCanvasElement) => [c.width, c.height]);
  expect(size).toEqual([64, 64]);
  await expect(page.locator('#output')).toHaveAttribute('data-generation', '1', { timeout: 200_000 });
  await expect(page.locator('#preview')).toBeHidden();
});
