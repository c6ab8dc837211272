// `npm run bench` on a tiny grid produces well-formed results (figures are not asserted: this machine
// is shared and noisy). It drives its own preview server and Chromium, like a person running it.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { expect, test } from '@playwright/test';

test('the benchmark writes results.json, a table and three plots on a tiny grid', async ({}, testInfo) => {
  test.setTimeout(300_000);
  const out = testInfo.outputPath('bench');
  await promisify(execFile)('npx', ['tsx', 'scripts/bench.ts', '--backends', 'wasm', '--steps', '1,2', '--sizes', '256', '--repeats', '1', '--out', out], { timeout: 280_000 });
  const r = JSON.parse(readFileSync(`${out}/results.json`, 'utf8'));
  expect(r.machine).toMatchObject({ cpus: expect.any(Number), chromium: expect.stringMatching(/^\d+\./) });
  expect(r.machine.adapters.wasm).toMatch(/WASM/);
  expect(r.rows.map((row: { steps: number }) => row.steps)).toEqual([1, 2]);
  // Native runs are interleaved with the browser's: one right after each browser run, paired for the ratio.
  expect(r.grid.interleaved).toBe(true);
  expect(r.raw.map((x: { native?: { unetMsPerStep: number } }) => Number.isFinite(x.native?.unetMsPerStep))).toEqual([true, true]);
  for (const row of r.rows) {
    expect(row).toMatchObject({ backend: 'wasm', size: 256, unetCalls: row.steps });
    for (const k of ['totalMs', 'unetMsPerStep', 'vaeMs', 'overheadPct', 'nativeTotalMs', 'browserOverNative']) expect(Number.isFinite(row[k])).toBe(true);
    expect(row.browserOverNativeSpread[0]).toBeLessThanOrEqual(row.browserOverNative);
    expect(row.unetPerCallSpread[1]).toBeGreaterThanOrEqual(row.stageRatios.unetPerCall);
  }
  expect(r.native[0]).toMatchObject({ size: 256 });
  expect(readFileSync(`${out}/results.md`, 'utf8')).toContain('| wasm | 256² | 2 |');
  for (const svg of ['time-vs-steps.svg', 'time-vs-size.svg', 'stages.svg']) {
    expect(existsSync(`${out}/${svg}`)).toBe(true);
    expect(readFileSync(`${out}/${svg}`, 'utf8')).toMatch(/^<svg [\s\S]*<\/svg>\n$/);
  }
});
