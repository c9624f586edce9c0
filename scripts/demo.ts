// The main job, end to end on an embedded real cluster: install the fixture release at 5.19.0, upgrade it to
// 5.20.0 with the action's CLI (dist/cli.js, the same engine GitHub runs), then try a crash-looping tag that
// the action rolls back, and end with a short rehearsal (5.20.0 → 5.21.0 → back, helm rollback). Every
// summary is printed. The cluster is stopped (by pid) at the end.
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, resolveClusterTools, startCluster } from '../test/e2e/cluster/harness.ts';

const run = promisify(execFile);
const IMAGE = 'opswat/metadefendercore-debian';
const NS = 'mdcore';

function say(text: string): void {
  process.stdout.write(`\n\x1b[1m== ${text}\x1b[0m\n`);
}

/** Runs the CLI, streaming its output; resolves with its exit code. */
function cli(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'dist', 'cli.js'), ...args], {
      env,
      stdio: 'inherit',
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), 10 * 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

async function main(): Promise<number> {
  if (!existsSync(path.join(REPO_ROOT, 'dist', 'cli.js')))
    throw new Error('dist/cli.js is missing: run npm run build');
  say(
    'Embedded cluster: building or reusing etcd, kube-apiserver, controller-manager, scheduler, kwok, kubectl, helm',
  );
  const toolsDir = await resolveClusterTools();
  const cluster = await startCluster({ name: `mdcore-demo-${process.pid}`, nodes: 2, toolsDir });
  let code: number;
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KUBECONFIG: cluster.kubeconfig,
      MDCORE_LICENSE_KEY: 'DEMO-LICENSE-KEY',
      // kubectl 1.36.3 and helm 3 from the cluster build: the action's installer uses a binary on PATH when its
      // version is exactly the one asked for, so the demo needs no download.
      PATH: [cluster.binDir, path.dirname(cluster.helm3), process.env.PATH ?? ''].join(path.delimiter),
    };
    const k = (args: string[]) => run(cluster.kubectl, ['--kubeconfig', cluster.kubeconfig, ...args]);
    say(`Installing the fixture MetaDefender Core release at 5.19.0 (2 replicas) into namespace ${NS}`);
    await k(['create', 'namespace', NS]);
    await run(cluster.helm3, [
      'install',
      'mdcore',
      path.join(REPO_ROOT, 'test', 'fixtures', 'charts', 'mdcore-5.19.0'),
      '--namespace',
      NS,
      '--kubeconfig',
      cluster.kubeconfig,
      '--set',
      `core_components.md-core.image=${IMAGE}:5.19.0`,
      '--set',
      'core_components.md-core.replicas=2',
      '--set',
      'mdcore_license_key=DEMO-LICENSE-KEY',
    ]);
    await k(['rollout', 'status', 'deployment/md-core', '-n', NS, '--timeout=120s']);
    process.stdout.write((await k(['get', 'deployment,pods', '-n', NS, '-o', 'wide'])).stdout);

    // method auto: the release is helm-managed, so the action takes the helm route; the license key is passed
    // again (from the environment, masked) so the chart cannot reset it to its placeholder.
    const common = [
      '--namespace',
      NS,
      '--kubectl-version',
      '1.36.3',
      '--helm-version',
      '3.22.0',
      '--timeout',
      '2m',
    ];
    say('Upgrade 5.19.0 → 5.20.0 with the action');
    const first = await cli([...common, '--tag', '5.20.0'], env);
    say(`Upgrade to a crash-looping tag (5.21.0-crashloop): the action must roll it back`);
    const second = await cli([...common, '--tag', '5.21.0-crashloop'], env);
    process.stdout.write((await k(['get', 'deployment', 'md-core', '-n', NS, '-o', 'wide'])).stdout);
    process.stdout.write((await k(['rollout', 'history', 'deployment/md-core', '-n', NS])).stdout);
    const history = await run(cluster.helm3, [
      'history',
      'mdcore',
      '--namespace',
      NS,
      '--kubeconfig',
      cluster.kubeconfig,
    ]);
    process.stdout.write(history.stdout);
    // A scheduled staging rehearsal, short: the next version and the way back (helm rollback on this release).
    say('Rehearsal: 5.20.0 → 5.21.0 → back to 5.20.0, with the report and history a scheduled run keeps');
    const reportDir = mkdtempSync(path.join(tmpdir(), 'mdcore-demo-rehearsal-'));
    let third: number;
    try {
      third = await cli(
        [
          ...common,
          '--tag',
          '5.21.0',
          '--rehearsal',
          '--baseline-tag',
          '5.20.0',
          '--rehearsal-report',
          path.join(reportDir, 'rehearsal.json'),
        ],
        env,
      );
    } finally {
      rmSync(reportDir, { recursive: true, force: true });
    }
    const ok = first === 0 && second === 1 && third === 0;
    say(
      ok
        ? 'Demo done: the upgrade succeeded, the broken upgrade was rolled back and the job failed as it should, and the rehearsal passed both ways.'
        : `Demo FAILED: first run exited ${first} (want 0), second ${second} (want 1), rehearsal ${third} (want 0)`,
    );
    code = ok ? 0 : 1;
  } finally {
    await cluster.stop();
  }
  return code;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
