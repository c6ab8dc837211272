// Paths to ../shared (beside the repository in development and CI) and the built-in pack.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const REPO = resolve(__dirname, '..');
export const SHARED = resolve(REPO, '../shared');
export const BUILTIN_PACK = resolve(REPO, 'public/models/shapes-int8');

export function readShared(relative: string): string {
  const path = resolve(SHARED, relative);
  if (!existsSync(path)) throw new Error(`${path} is missing: ../shared must sit beside the repository`);
  return readFileSync(path, 'utf8');
}
