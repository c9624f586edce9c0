// The MIGRATE_HISTORY free-space check with a stand-in `kubectl` (the embedded cluster runs no containers,
// so `kubectl exec` into postgres cannot be exercised end to end there).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { V1Deployment } from '@kubernetes/client-node';
import { checkDbSpace, type DbSpaceContext } from '../../src/steps/migrate-history.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import type { StepHandle } from '../../src/engine/timeline.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-dbspace-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A kubectl that answers `exec … df` and `exec … psql` from environment variables, and logs its arguments. */
const fakeKubectl = path.join(dir, 'kubectl');
writeFileSync(
  fakeKubectl,
  `#!/bin/sh
echo "$*" >> "${dir}/calls"
[ -n "$FAKE_FAIL" ] && { echo "error: cannot exec" >&2; exit 1; }
case "$*" in
  *" df "*) printf 'Filesystem 1-blocks Used Available Capacity Mounted on\\n/dev/sdb %s 0 %s 50%% /var/lib/postgresql/data\\n' "$FAKE_SIZE" "$FAKE_AVAIL" ;;
  *pg_database_size*) echo "$FAKE_DB" ;;
  *) exit 2 ;;
esac
`,
);
chmodSync(fakeKubectl, 0o755);

const GiB = 1024 ** 3;
const postgres: V1Deployment = {
  spec: {
    selector: {},
    template: {
      spec: {
        containers: [
          { name: 'postgres-core', volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }] },
        ],
      },
    },
  },
};

function context(
  inputs: Record<string, string>,
  withPostgres = true,
): { ctx: DbSpaceContext; step: StepHandle; log: string[] } {
  const parsed = parseInputs({ namespace: 'mdcore', tag: '5.20.0', 'migrate-history': 'true', ...inputs });
  if (!parsed.ok) throw new Error('inputs');
  const log: string[] = [];
  const ctx: DbSpaceContext = {
    plan: parsed.plan,
    target: { namespace: 'mdcore', deployment: 'md-core', container: 'md-core', selector: 'app=md-core' },
    reporter: new MemoryReporter(),
    kubectl: fakeKubectl,
    kubeconfigFile: path.join(dir, 'kubeconfig'),
    kube: {
      getDeployment: async (_ns, name) => (withPostgres && name === 'postgres-core' ? postgres : undefined),
    },
  };
  const step: StepHandle = { detail: (t) => log.push(t), warn: (t) => log.push(`WARN ${t}`) };
  return { ctx, step, log };
}

function env(size: number, avail: number, db: number, fail = false): void {
  process.env.FAKE_SIZE = String(size);
  process.env.FAKE_AVAIL = String(avail);
  process.env.FAKE_DB = String(db);
  if (fail) process.env.FAKE_FAIL = '1';
  else delete process.env.FAKE_FAIL;
}

describe('checkDbSpace', () => {
  it('passes when the free space holds the database once more', async () => {
    env(100 * GiB, 40 * GiB, 30 * GiB);
    const { ctx, step, log } = context({});
    await checkDbSpace(ctx, 'metadefender_core', step);
    expect(log.join('\n')).toContain('40.0 GiB free of 100.0 GiB; database metadefender_core is 30.0 GiB');
  });

  it('refuses when it does not fit, naming both figures', async () => {
    env(100 * GiB, 10 * GiB, 30 * GiB);
    const { ctx, step } = context({});
    await expect(checkDbSpace(ctx, 'metadefender_core', step)).rejects.toThrow(
      /10\.0 GiB free, 30\.0 GiB needed.*Nothing in the cluster was changed/,
    );
  });

  it('uses the stated need instead of the database size when given', async () => {
    env(100 * GiB, 10 * GiB, 1 * GiB);
    const { ctx, step } = context({ 'db-free-space': '20Gi' });
    await expect(checkDbSpace(ctx, 'metadefender_core', step)).rejects.toThrow(/20\.0 GiB needed/);
  });

  it('refuses in auto mode when it cannot measure, and only warns with a stated need or skip', async () => {
    env(0, 0, 0, true);
    await expect(checkDbSpace(context({}).ctx, 'metadefender_core', context({}).step)).rejects.toThrow(
      /Set 'db-free-space'/,
    );
    const stated = context({ 'db-free-space': '5Gi' });
    await checkDbSpace(stated.ctx, 'metadefender_core', stated.step);
    expect(stated.log.join('\n')).toContain('WARN');
    const skip = context({ 'db-free-space': 'skip' });
    await checkDbSpace(skip.ctx, 'metadefender_core', skip.step);
    expect(skip.log.join('\n')).toContain("'db-free-space: skip'");
  });

  it('treats a database outside the cluster as unmeasurable', async () => {
    env(100 * GiB, 40 * GiB, 30 * GiB);
    const { ctx, step } = context({}, false);
    await expect(checkDbSpace(ctx, 'metadefender_core', step)).rejects.toThrow(/cannot measure/);
  });

  it('passes the database name to psql as an argument, quoted for SQL, not through the shell', async () => {
    env(100 * GiB, 40 * GiB, 1);
    const { ctx, step } = context({});
    await checkDbSpace(ctx, "odd'name", step);
    const calls = (await import('node:fs')).readFileSync(path.join(dir, 'calls'), 'utf8');
    expect(calls).toContain("SELECT pg_database_size('odd''name')");
    expect(calls).toContain('psql -U "${POSTGRES_USER:-postgres}" -tAc "$1"');
  });
});
