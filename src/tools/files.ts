// File helpers for the installer: SHA-256 of a file, and the first executable of a name on a PATH.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, constants, stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * The file that running `fileName` would start: the first directory of `searchPath` holding a regular file of
 * that name that may be executed. `fileName` includes '.exe' on windows.
 */
export async function findOnPath(
  fileName: string,
  searchPath: string | undefined,
  delimiter: string = path.delimiter,
): Promise<string | undefined> {
  for (const dir of (searchPath ?? '').split(delimiter)) {
    if (dir === '' || !path.isAbsolute(dir)) continue; // relative PATH entries depend on the cwd: ignored
    const candidate = path.join(dir, fileName);
    try {
      if (!(await stat(candidate)).isFile()) continue;
      await access(candidate, process.platform === 'win32' ? constants.F_OK : constants.X_OK);
      return candidate;
    } catch {
      continue;
    }
  }
  return undefined;
}
