// README.md's marked blocks: the Roles and rule lists that tests compare with the code and apply to a cluster.
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const README = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'README.md');

export function readmeText(): string {
  return readFileSync(README, 'utf8');
}

/** The fenced yaml block between `<!-- rbac:<id>:start -->` and `<!-- rbac:<id>:end -->`. */
export function rbacBlock(id: string, readme = readmeText()): string {
  const start = `<!-- rbac:${id}:start -->`;
  const end = `<!-- rbac:${id}:end -->`;
  const from = readme.indexOf(start);
  const to = readme.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`README.md has no ${start} … ${end} block`);
  const m = /^\s*```yaml\n([\s\S]*?)```\s*$/.exec(readme.slice(from + start.length, to));
  if (!m?.[1]) throw new Error(`README.md's rbac:${id} block is not one fenced yaml block`);
  return m[1];
}
