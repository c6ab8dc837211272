// The web manifest's screenshots (public/screenshots/): the production build, wide and phone-sized,
// after generating the default prompt with the built-in pack. Run after `npm run build`:
//   npx tsx scripts/screenshots.ts
import { mkdirSync } from 'node:fs';
import { launchChromium, startPreview } from './lib/browser';

const preview = await startPreview(4175);
try {
  const browser = await launchChromium();
  mkdirSync('public/screenshots', { recursive: true });
  for (const [name, width, height] of [['wide', 1280, 800], ['narrow', 540, 960]] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${preview.url}/`);
    await page.locator('#model-status').filter({ hasText: 'ready on' }).waitFor({ timeout: 300_000 });
    await page.locator('#backend').selectOption('wasm');
    await page.locator('#model-status').filter({ hasText: 'ready on' }).waitFor({ timeout: 300_000 });
    await page.locator('#width').selectOption('256');
    await page.locator('#height').selectOption('256');
    await page.locator('#generate').click();
    await page.locator('#output[data-generation="1"]').waitFor({ timeout: 300_000 });
    await page.evaluate('window.scrollTo(0, 0)');
    if (name === 'narrow') await page.locator('#output').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `public/screenshots/${name}.png` });
    await page.close();
  }
  await browser.close();
} finally {
  preview.stop();
}
