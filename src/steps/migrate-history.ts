// OPSWAT's MIGRATE_HISTORY pre-steps: keep the liveness probe from killing a long migration, check that the
// database server has room, and stop every md-core pod (all DB connections must end) before the new version
// starts.
import type { V1Container, V1Probe } from '@kubernetes/client-node';
import { waitForNoPods } from '../cluster/pods-gone.ts';
import { checkCancelled, kubectlArgsFor, type RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import { runTool } from '../tools/exec.ts';

/**
 * The liveness probe is held off by a startup probe sized to the migration: Kubernetes runs no liveness (or
 * readiness) check until the startup probe succeeds, so the migration may take up to migration-timeout, and
 * the liveness probe guards the pod again the moment it is up. Removing the liveness probe instead would need
 * a second change (and a second restart of every pod) to put it back afterwards.
 */
export function migrationStartupProbe(
  container: V1Container,
  migrationTimeoutSeconds: number,
): V1Probe | undefined {
  if (!container.livenessProbe) return undefined;
  const handler = container.readinessProbe ?? container.livenessProbe;
  const period = 10;
  const needed = Math.ceil((migrationTimeoutSeconds + 60) / period);
  const existing = container.startupProbe;
  if (existing && (existing.failureThreshold ?? 3) * (existing.periodSeconds ?? 10) >= needed * period)
    return undefined;
  return {
    ...(handler.httpGet ? { httpGet: handler.httpGet } : {}),
    ...(handler.tcpSocket ? { tcpSocket: handler.tcpSocket } : {}),
    ...(handler.exec ? { exec: handler.exec } : {}),
    ...(handler.grpc ? { grpc: handler.grpc } : {}),
    periodSeconds: period,
    timeoutSeconds: handler.timeoutSeconds ?? 10,
    failureThreshold: needed,
  };
}

export function describeLivenessPlan(
  container: V1Container,
  probe: V1Probe | undefined,
  migrationTimeoutSeconds: number,
): string {
  if (!container.livenessProbe)
    return 'the container has no liveness probe: nothing can restart the migration';
  if (!probe)
    return 'the existing startup probe already covers migration-timeout: liveness stays held off until the pod is up';
  return `liveness held off by a startup probe (${probe.failureThreshold} × ${probe.periodSeconds} s ≥ migration-timeout ${migrationTimeoutSeconds} s + 60 s), applied with the image change; the liveness probe itself is unchanged and guards the pod once it is up`;
}

/** Parses `df -B1 -P <dir>` output into {size, available} bytes. */
export function parseDf(out: string): { size: number; available: number } | undefined {
  const line = out.trim().split('\n').pop() ?? '';
  const cols = line.trim().split(/\s+/);
  if (cols.length < 6) return undefined;
  const size = Number(cols[1]);
  const available = Number(cols[3]);
  return Number.isFinite(size) && Number.isFinite(available) ? { size, available } : undefined;
}

const GiB = 1024 ** 3;
const fmt = (b: number): string => `${(b / GiB).toFixed(1)} GiB`;

/**
 * Free space on the database server. In-cluster postgres-core: `df` on its data directory and the size of
 * the database (its processing history is copied into the new database, so that much again must fit). When
 * the action cannot see the server, the `db-free-space` input states the need or skips the check.
 */
/** What the free-space check needs of a run (a RunContext has it all). */
export type DbSpaceContext = Pick<
  RunContext,
  'plan' | 'target' | 'reporter' | 'kubectl' | 'kubeconfigFile'
> & {
  readonly kube: Pick<RunContext['kube'], 'getDeployment'>;
};

export async function checkDbSpace(ctx: DbSpaceContext, fromDbName: string, step: StepHandle): Promise<void> {
  const { plan } = ctx;
  if (plan.dbFreeSpace === 'skip') {
    step.warn(
      "free space on the database server was not checked ('db-free-space: skip'); make sure the migration fits",
    );
    return;
  }
  const measured = await measurePostgres(ctx, fromDbName, step);
  const stated = typeof plan.dbFreeSpace === 'number' ? plan.dbFreeSpace : undefined;
  if (!measured) {
    if (stated !== undefined) {
      step.warn(
        `the action cannot see the database server's disk; the stated need (${fmt(stated)}, 'db-free-space') was not verified`,
      );
      return;
    }
    throw new Error(
      "MIGRATE_HISTORY needs room on the database server, and the action cannot measure it here (no in-cluster postgres-core it can exec into). Set 'db-free-space' to the space the migration needs (e.g. 20Gi) after checking the server, or to 'skip'. Nothing in the cluster was changed.",
    );
  }
  const need = stated ?? measured.dbSize;
  step.detail(
    `postgres-core: ${fmt(measured.available)} free of ${fmt(measured.size)}; database ${fromDbName} is ${fmt(measured.dbSize)}; need ${fmt(need)}`,
  );
  if (measured.available < need) {
    throw new Error(
      `not enough free space on the database server for MIGRATE_HISTORY: ${fmt(measured.available)} free, ${fmt(need)} needed. Grow the volume or clean up first. Nothing in the cluster was changed.`,
    );
  }
}

async function measurePostgres(
  ctx: DbSpaceContext,
  dbName: string,
  step: StepHandle,
): Promise<{ size: number; available: number; dbSize: number } | undefined> {
  const pg = await ctx.kube.getDeployment(ctx.target.namespace, 'postgres-core');
  if (!pg) {
    step.detail('no in-cluster postgres-core Deployment: the database server is outside the cluster');
    return undefined;
  }
  const container = pg.spec?.template?.spec?.containers?.[0];
  const mount = container?.volumeMounts?.[0]?.mountPath ?? '/var/lib/postgresql/data';
  const exec = (cmd: string[]): Promise<string | undefined> =>
    runTool(
      ctx.reporter,
      ctx.kubectl,
      kubectlArgsFor(ctx, 'exec', 'deployment/postgres-core', '--', ...cmd),
      {
        allowFailure: true,
      },
    )
      .then((r) => (r.exitCode === 0 ? r.stdout : undefined))
      .catch(() => undefined);
  const df = await exec(['df', '-B1', '-P', mount]);
  const parsed = df ? parseDf(df) : undefined;
  // The container's own POSTGRES_USER; the query travels as an argument, never through the shell's parsing.
  const sizeOut = await exec([
    'sh',
    '-c',
    'psql -U "${POSTGRES_USER:-postgres}" -tAc "$1"',
    'sh',
    `SELECT pg_database_size('${dbName.replaceAll("'", "''")}')`,
  ]);
  const dbSize = sizeOut !== undefined ? Number(sizeOut.trim()) : NaN;
  if (!parsed || !Number.isFinite(dbSize)) {
    step.detail('could not run df / psql in postgres-core (kubectl exec failed): free space unknown');
    return undefined;
  }
  return { ...parsed, dbSize };
}

/** Scales md-core to zero and waits until no md-core pod is left (every DB connection closed). */
export async function stopPods(ctx: RunContext, step: StepHandle): Promise<void> {
  const { plan, state, journal } = ctx;
  checkCancelled(ctx, 'scaling md-core to zero');
  journal.update({ replicas: state.replicas });
  await runTool(
    ctx.reporter,
    ctx.kubectl,
    kubectlArgsFor(ctx, 'scale', `deployment/${ctx.target.deployment}`, '--replicas=0'),
    {
      announce: true,
    },
  );
  const left = await waitForNoPods(ctx.kube, {
    namespace: ctx.target.namespace,
    selector: state.selector,
    timeoutMs: Math.max(120, Math.min(plan.timeoutSeconds, 900)) * 1000,
    onProgress: (n) => step.detail(`${n} md-core pod(s) still running`),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (left > 0)
    throw new Error(
      `${left} md-core pod(s) did not stop; the migration needs every database connection closed`,
    );
  step.detail(
    `all md-core pods stopped (was ${state.replicas}); the new version starts with ${state.replicas} replica(s)`,
  );
}
