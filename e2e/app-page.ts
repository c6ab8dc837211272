// Page object for the generator page, and the fixture that hands it to every test.
import { test as base, expect, type Page } from '@playwright/test';

export interface Settings {
  prompt?: string;
  negative?: string;
  steps?: number | string;
  width?: number;
  height?: number;
  guidance?: number | string;
  seed?: number | string;
  scheduler?: string;
  backend?: 'auto' | 'webgpu' | 'wasm';
}

export class AppPage {
  /** Every URL the page requested, to prove nothing leaves the machine. */
  readonly requests: string[] = [];

  constructor(readonly page: Page) {
    page.on('request', (r) => this.requests.push(r.url()));
  }

  async open(): Promise<void> {
    await this.page.goto('/');
    await this.ready();
  }

  async ready(): Promise<void> {
    await expect(this.page.locator('#model-status')).toContainText('ready on', { timeout: 180_000 });
  }

  async set(s: Settings): Promise<void> {
    const p = this.page;
    if (s.backend) {
      const current = await p.locator('#backend').inputValue();
      if (current !== s.backend) {
        await p.locator('#backend').selectOption(s.backend);
        // A tiny model reloads faster than a "Loading" could be seen: wait for the new backend's "ready".
        const label = { wasm: 'ready on WASM', webgpu: 'ready on WebGPU', auto: 'ready on' }[s.backend];
        await expect(p.locator('#model-status')).toContainText(label, { timeout: 180_000 });
      }
    }
    if (s.prompt !== undefined) await p.locator('#prompt').fill(s.prompt);
    if (s.negative !== undefined) await p.locator('#negative').fill(s.negative);
    if (s.steps !== undefined) await p.locator('#steps').fill(String(s.steps));
    if (s.width !== undefined) await p.locator('#width').selectOption(String(s.width));
    if (s.height !== undefined) await p.locator('#height').selectOption(String(s.height));
    if (s.guidance !== undefined) await p.locator('#guidance').fill(String(s.guidance));
    if (s.seed !== undefined) await p.locator('#seed').fill(String(s.seed));
    if (s.scheduler !== undefined) await p.locator('#scheduler').selectOption(s.scheduler);
  }

  async generate(s: Settings = {}): Promise<{ pixels: number[]; width: number; height: number }> {
    await this.set(s);
    const output = this.page.locator('#output');
    const before = Number((await output.getAttribute('data-generation')) ?? 0);
    await this.page.locator('#generate').click();
    await expect(output).toHaveAttribute('data-generation', String(before + 1), { timeout: 200_000 });
    return this.pixels();
  }

  async pixels(): Promise<{ pixels: number[]; width: number; height: number }> {
    return this.page.locator('#image').evaluate((c: HTMLCanvasElement) => {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
      return { pixels: Array.from(d.data), width: c.width, height: c.height };
    });
  }

  async backendInUse(): Promise<string> {
    return (await this.page.locator('#model-status').textContent()) ?? '';
  }
}

export const test = base.extend<{ app: AppPage }>({
  app: async ({ page }, use) => {
    const app = new AppPage(page);
    await app.open();
    await use(app);
  },
});

export { expect };
