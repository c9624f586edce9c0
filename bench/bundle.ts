// Size of the action's committed bundle (dist/): what GitHub downloads for every job that uses the action.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

export interface BundleSizes {
  files: number;
  bytes: number;
  gzipBytes: number;
  largest: { file: string; bytes: number }[];
}

export async function bundleSizes(dir: string): Promise<BundleSizes> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files: { file: string; bytes: number; gzip: number }[] = [];
  for (const e of entries) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    const data = await readFile(full);
    files.push({ file: path.relative(dir, full), bytes: data.length, gzip: gzipSync(data).length });
  }
  files.sort((a, b) => b.bytes - a.bytes);
  return {
    files: files.length,
    bytes: files.reduce((n, f) => n + f.bytes, 0),
    gzipBytes: files.reduce((n, f) => n + f.gzip, 0),
    largest: files.slice(0, 4).map((f) => ({ file: f.file, bytes: f.bytes })),
  };
}
