// What the browser-driven scripts share: the production build served by `vite preview` on a port of
// their own, and Debian's Chromium with WebGPU through SwiftShader (the same flags as the e2e tests).
import { spawn } from 'node:child_process';
import { chromium, type Browser } from '@playwright/test';

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
