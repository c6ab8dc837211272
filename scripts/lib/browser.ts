// What the browser-driven scripts share: the production build served by `vite preview` on a port of
// their own, and Debian's Chromium with WebGPU through SwiftShader (the same flags as the e2e tests).
import { spawn } from 'node:child_process';
import { chromium, type Browser } from '@playwright/test';

export interface Preview {
  readonly url: string;
  stop(): void;
}

export async function startPreview(port: number): Promise<Preview> {
  const server = spawn('npx', ['vite', 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], { stdio: 'ignore', detached: true });
  const url = `http://127.0.0.1:${port}`;
  const stop = () => { if (server.pid) process.kill(-server.pid); };
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(url)).ok) return { url, stop };
    } catch { /* not up yet */ }
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
