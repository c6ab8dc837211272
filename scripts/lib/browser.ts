// What the browser-driven scripts share: the production build served by `vite preview` on a port of
// their own, and Debian's Chromium with WebGPU through SwiftShader (the same flags as the e2e tests).
import { spawn } from 'node:child_process';
import { chromium, type Browser, type Page } from '@playwright/test';

export interface Preview {
  readonly url: string;
  stop(): void;
}

async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

export async function startPreview(port: number): Promise<Preview> {
  const url = `http://127.0.0.1:${port}`;
  // A server left behind by a killed run would answer instead of this build's: refuse to measure it.
  if (await answers(url)) throw new Error(`port ${port} is already in use (a preview server left running?)`);
  const server = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { stdio: 'ignore', detached: true });
  let stopped = false;
  const stop = () => {
    if (stopped || !server.pid) return;
    stopped = true;
    try {
      process.kill(-server.pid);
    } catch { /* already gone */ }
  };
  process.once('exit', stop);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { stop(); process.exit(130); });
  for (let i = 0; i < 100; i++) {
    if (server.exitCode !== null) throw new Error('vite preview exited (run `npm run build` first)');
    if (await answers(url)) return { url, stop };
    await new Promise((r) => setTimeout(r, 200));
  }
  stop();
  throw new Error('vite preview did not start (run `npm run build` first)');
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

/** Wait until the page says its model is ready. */
export async function pageReady(page: Page, timeout = 300_000): Promise<void> {
  await page.locator('#model-status').filter({ hasText: 'ready on' }).waitFor({ timeout });
}

/** Fill the form, press Generate, and give the run's timings (the page's #output data-timings). */
export async function generateOnPage<T>(page: Page, s: { readonly prompt?: string; readonly steps: number; readonly size: number; readonly guidance?: number; readonly twoPass?: boolean },
  timeout = 600_000): Promise<T> {
  if (s.prompt !== undefined) await page.locator('#prompt').fill(s.prompt);
  await page.locator('#steps').fill(String(s.steps));
  await page.locator('#width').selectOption(String(s.size));
  await page.locator('#height').selectOption(String(s.size));
  if (s.guidance !== undefined) await page.locator('#guidance').fill(String(s.guidance));
  await page.locator('#seed').fill('1');
  // (the box shows only for a pack with a layout size; it is on by default)
  if (s.twoPass !== undefined && (await page.locator('#two-pass').isVisible())) await page.locator('#two-pass').setChecked(s.twoPass);
  const before = Number((await page.locator('#output').getAttribute('data-generation')) ?? 0);
  await page.locator('#generate').click();
  const done = page.locator(`#output[data-generation="${before + 1}"]`).waitFor({ state: 'attached', timeout });
  const failed = page.locator('#error').waitFor({ state: 'visible', timeout }).then(async () => {
    throw new Error(`the app refused the run: ${await page.locator('#error').textContent()}`);
  });
  await Promise.race([done, failed]);
  return JSON.parse((await page.locator('#output').getAttribute('data-timings'))!) as T;
}
