// The web manifest's screenshots (public/screenshots/) and the first screen's measurements: the
// production build at a desktop (1280×800) and a phone (390×844) size, first as a newcomer sees it, then
// with the default prompt generated on the built-in pack. Prints where Generate and the picture sit.
// Run after `npm run build`:
//   npx tsx scripts/screenshots.ts
import { mkdirSync } from 'node:fs';
import { launchChromium, startPreview } from './lib/browser';

const SIZES = [['wide', 1280, 800], ['narrow', 390, 844]] as const;
const preview = await startPreview(4175);
try {
  const browser = await launchChromium();
  mkdirSync('public/screenshots', { recursive: true });
  const measured: Record<string, { generateY: number; generateBottom: number; pictureTop: number }> = {};
  for (const [name, width, height] of SIZES) {
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${preview.url}/`);
    await page.locator('#model-status').filter({ hasText: 'ready on' }).waitFor({ timeout: 300_000 });
    await page.locator('#pack-download').waitFor({ state: 'hidden', timeout: 30_000 });
    const box = async (sel: string) => page.locator(sel).evaluate((el) => { const r = el.getBoundingClientRect(); const y = el.ownerDocument.defaultView?.scrollY ?? 0; return { top: r.top + y, bottom: r.bottom + y }; });
    const g = await box('#generate');
    measured[name] = { generateY: Math.round(g.top), generateBottom: Math.round(g.bottom), pictureTop: Math.round((await box('#placeholder')).top) };
    await page.screenshot({ path: `public/screenshots/${name}-start.png` });
    await page.locator('#tuning').evaluate((d) => { d.setAttribute('open', ''); });
    await page.locator('#backend').selectOption('wasm');
    await page.locator('#model-status').filter({ hasText: 'ready on WASM' }).waitFor({ timeout: 300_000 });
    await page.locator('#width').selectOption('512');
    await page.locator('#height').selectOption('512');
    if (name === 'narrow') await page.locator('#tuning').evaluate((d) => { d.removeAttribute('open'); });
    await page.locator('#generate').click();
    await page.locator('#output[data-generation="1"]').waitFor({ timeout: 300_000 });
    await page.waitForTimeout(800); // the smooth scroll to the picture on a phone
    if (name === 'wide') await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: `public/screenshots/${name}.png` });
    await page.close();
  }
  await browser.close();
  console.log(JSON.stringify(measured, null, 1));
  console.log(`\n| size | Generate (top–bottom, px) | picture's top (px) |\n| --- | --- | --- |\n${SIZES.map(([n, w, h]) => `| ${n} ${w}×${h} | ${measured[n]!.generateY}–${measured[n]!.generateBottom} | ${measured[n]!.pictureTop} |`).join('\n')}`);
} finally {
  preview.stop();
}
