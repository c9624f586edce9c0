// npm run cluster:up   -> starts a cluster that outlives this command; last line: KUBECONFIG=<path>
// npm run cluster:down -> stops it (kwokctl delete, then every process it started, by pid)
//
// State lives in <repo>/.cluster/state.json (gitignored). Options for `up`: --name <n> --nodes <k>.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ClusterState, REPO_ROOT, attachCluster, isProcessAlive, startCluster } from './harness.ts';

export const STATE_DIR = path.join(REPO_ROOT, '.cluster');
export const STATE_FILE = path.join(STATE_DIR, 'state.json');

async function readState(): Promise<ClusterState | undefined> {
  if (!existsSync(STATE_FILE)) return undefined;
  return JSON.parse(await readFile(STATE_FILE, 'utf8')) as ClusterState;
}

async function up(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { name: { type: 'string' }, nodes: { type: 'string' } },
    strict: true,
  });
  const existing = await readState();
  if (existing) {
    const alive = await Promise.all(existing.processes.map((p) => isProcessAlive(p)));
    if (alive.some(Boolean)) {
      throw new Error(`cluster ${existing.name} is already up (npm run cluster:down first); ${STATE_FILE}`);
    }
    await attachCluster(existing).stop(); // leftovers of a dead cluster
    await rm(STATE_FILE, { force: true });
  }
  const nodes = values.nodes === undefined ? 2 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50)
    throw new Error(`--nodes must be 1..50: ${values.nodes}`);
  const started = Date.now();
  const cluster = await startCluster({ name: values.name ?? 'mdcore-dev', nodes, killOnExit: false });
  await mkdir(STATE_DIR, { recursive: true });
  await writeFile(STATE_FILE, JSON.stringify(cluster.state(), null, 2));
  console.log(`cluster ${cluster.name} up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`processes: ${cluster.processes.map((p) => `${p.component}=${p.pid}`).join(' ')}`);
  console.log(`binaries: ${cluster.binDir} (helm 3: ${cluster.helm3}, helm 4: ${cluster.helm4})`);
  console.log(`stop with: npm run cluster:down`);
  console.log(`KUBECONFIG=${cluster.kubeconfig}`);
}

async function down(): Promise<void> {
  const state = await readState();
  if (!state) {
    console.log(`no cluster recorded in ${STATE_FILE}`);
    return;
  }
  await attachCluster(state).stop();
  await rm(STATE_FILE, { force: true });
  console.log(`cluster ${state.name} stopped`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'up') await up(rest);
  else if (command === 'down') await down();
  else {
    console.error('usage: node test/e2e/cluster/cli.ts up [--name <n>] [--nodes <k>] | down');
    process.exitCode = 2;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
