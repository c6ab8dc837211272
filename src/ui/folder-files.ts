// A picked or dropped folder as the list of files the importer takes, each with its path inside the
// folder (the folder's own name first, as <input webkitdirectory> gives it).
import type { LocalFile } from '../store/local-import';

export function pickedFiles(list: FileList): LocalFile[] {
  return [...list].map((f) => ({ path: f.webkitRelativePath || f.name, blob: f }));
}

function readEntries(dir: FileSystemDirectoryEntry): Promise<FileSystemEntry[]> {
  const reader = dir.createReader();
  const all: FileSystemEntry[] = [];
  // readEntries returns at most ~100 entries per call: read until it returns none.
  return new Promise((resolve, reject) => {
    const next = () => reader.readEntries((batch) => {
      if (!batch.length) return resolve(all);
      all.push(...batch);
      next();
    }, reject);
    next();
  });
}

async function walk(entry: FileSystemEntry, out: LocalFile[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path: entry.fullPath.replace(/^\//, ''), blob: file });
    return;
  }
  for (const child of await readEntries(entry as FileSystemDirectoryEntry)) await walk(child, out);
}

/** Every file under the dropped folders (or files) of a drop. */
export async function droppedFiles(data: DataTransfer): Promise<LocalFile[]> {
  const entries = [...data.items].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => !!e);
  const out: LocalFile[] = [];
  for (const e of entries) await walk(e, out);
  return out;
}
