// The repository works from a plain clone: no source, test, script or benchmark refers to a file outside the
// repository. And the EICAR test string, which the smoke scan needs, is nowhere stored whole.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { eicarTestFile, isEicarTestFile } from '../../src/core-api/smoke-files.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CODE = /\.(ts|js|mjs|cjs|sh)$/;

function filesUnder(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  const abs = join(ROOT, dir);
  if (!existsSync(abs)) return out;
  const walk = (d: string, depth: number): void => {
    if (depth > 12) return;
    for (const name of readdirSync(d)) {
      if (name === 'node_modules' || name === '.git') continue;
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p, depth + 1);
      else if (keep(p)) out.push(p);
    }
  };
  walk(abs, 0);
  return out;
}

/** Relative paths in string literals that climb out of the repository from the file that holds them. */
export function outsideReferences(file: string, text: string, root = ROOT): string[] {
  const found: string[] = [];
  for (const m of text.matchAll(/(['"`])((?:\.\.\/)+[^'"`\s]*)\1/g)) {
    const target = resolve(dirname(file), m[2] ?? '');
    const rel = relative(root, target);
    if (rel === '..' || rel.startsWith(`..${sep}`)) found.push(m[2] ?? '');
  }
  return found;
}

describe('a plain clone is complete', () => {
  const files = ['src', 'test', 'scripts', 'bench'].flatMap((d) => filesUnder(d, (p) => CODE.test(p)));

  it('finds the project files it checks', () => {
    expect(files.length).toBeGreaterThan(50);
    expect(files.some((f) => f.endsWith(join('test', 'unit', 'core-api-contract.test.ts')))).toBe(true);
  });

  it('the check catches a path that climbs out of the repository', () => {
    const fake = join(ROOT, 'test', 'support', 'x.ts');
    // Built here so this file does not hold such a path itself.
    const climbing = `${'../'.repeat(3)}elsewhere/spec.json`;
    expect(outsideReferences(fake, `new URL('${climbing}', import.meta.url)`)).toEqual([climbing]);
    expect(outsideReferences(fake, "import { a } from '../../src/a.ts';")).toEqual([]);
  });

  it('no source, test, script or benchmark refers to a path outside the repository', () => {
    // The regular expression below names the folder only in escaped form, so it does not match itself.
    const problems: string[] = [];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      for (const ref of outsideReferences(f, text)) problems.push(`${relative(ROOT, f)}: ${ref}`);
      if (/shared\/(reference|docs)\//.test(text)) {
        problems.push(`${relative(ROOT, f)}: names the shared reference folder`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the EICAR test string', () => {
  it('is assembled correctly (its well-known SHA-256)', () => {
    const bytes = eicarTestFile();
    expect(bytes.length).toBe(68);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      '275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f',
    );
    expect(isEicarTestFile(Buffer.concat([bytes, Buffer.from('\r\n')]))).toBe(true);
    expect(isEicarTestFile(Buffer.concat([Buffer.from(' '), bytes]))).toBe(false);
    expect(isEicarTestFile(bytes.subarray(0, 60))).toBe(false);
  });

  it('is not stored whole in any file of the repository, the bundle included', () => {
    const eicar = eicarTestFile();
    const all = ['src', 'test', 'scripts', 'bench', 'dist', '.github'].flatMap((d) =>
      filesUnder(d, () => true),
    );
    all.push(...['README.md', 'CHANGELOG.md', 'action.yml'].map((f) => join(ROOT, f)).filter(existsSync));
    expect(all.length).toBeGreaterThan(50);
    const holding = all.filter((f) => readFileSync(f).includes(eicar)).map((f) => relative(ROOT, f));
    expect(holding).toEqual([]);
  });
});
