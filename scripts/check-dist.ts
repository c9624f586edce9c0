// Fails when dist/ differs from a fresh build of src/: GitHub runs dist/, so it must be what src/ says.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

const fresh = mkdtempSync(join(tmpdir(), 'mdcore-dist-'));
try {
  execFileSync(process.execPath, ['scripts/bundle.ts', fresh], { stdio: 'inherit' });
  const a = new Map(files('dist').map((f) => [relative('dist', f), readFileSync(f)]));
  const b = new Map(files(fresh).map((f) => [relative(fresh, f), readFileSync(f)]));
  const problems: string[] = [];
  for (const [name, content] of b) {
    const committed = a.get(name);
    if (!committed) problems.push(`missing in dist/: ${name}`);
    else if (!committed.equals(content)) problems.push(`differs: dist/${name}`);
  }
  for (const name of a.keys()) if (!b.has(name)) problems.push(`stale file in dist/: ${name}`);
  if (problems.length > 0) {
    process.stderr.write(
      `dist/ is out of date with src/ (run npm run build and commit dist/):\n${problems.join('\n')}\n`,
    );
    process.exit(1);
  }
  process.stdout.write(`dist/ matches a fresh build (${b.size} files)\n`);
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
