import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findOnPath, sha256File } from '../../src/tools/files.ts';
import { isRetryableStatus } from '../../src/tools/lookup.ts';

let dir = '';
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'tools-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('sha256File', () => {
  it('hashes the whole file, across stream chunks', async () => {
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) % 251;
    const file = path.join(dir, 'blob');
    await writeFile(file, data);
    expect(await sha256File(file)).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('hashes an empty file to the well-known empty digest', async () => {
    const file = path.join(dir, 'empty');
    await writeFile(file, '');
    expect(await sha256File(file)).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe.skipIf(process.platform === 'win32')('findOnPath', () => {
  async function tool(sub: string, mode: number): Promise<string> {
    await mkdir(path.join(dir, sub), { recursive: true });
    const file = path.join(dir, sub, 'kubectl');
    await writeFile(file, '#!/bin/sh\n');
    await chmod(file, mode);
    return file;
  }

  it('returns the first executable file in PATH order', async () => {
    await tool('a', 0o644); // not executable: skipped
    const b = await tool('b', 0o755);
    await tool('c', 0o755);
    const search = [
      '',
      'relative/dir',
      path.join(dir, 'missing'),
      path.join(dir, 'a'),
      path.join(dir, 'b'),
      path.join(dir, 'c'),
    ];
    expect(await findOnPath('kubectl', search.join(':'), ':')).toBe(b);
  });

  it('skips a directory of that name', async () => {
    await mkdir(path.join(dir, 'd', 'kubectl'), { recursive: true });
    const e = await tool('e', 0o755);
    expect(await findOnPath('kubectl', `${path.join(dir, 'd')}:${path.join(dir, 'e')}`, ':')).toBe(e);
  });

  it('finds nothing on an empty or missing PATH', async () => {
    expect(await findOnPath('kubectl', undefined, ':')).toBeUndefined();
    expect(await findOnPath('kubectl', '', ':')).toBeUndefined();
    expect(await findOnPath('kubectl', path.join(dir, 'none'), ':')).toBeUndefined();
  });
});

describe('isRetryableStatus', () => {
  it('retries server errors, timeouts and throttling only', () => {
    for (const s of [500, 502, 503, 504, 408, 429]) expect(isRetryableStatus(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 410, 301]) expect(isRetryableStatus(s)).toBe(false);
  });
});
