// npm run cluster:up   -> starts a cluster that outlives this command; last line: KUBECONFIG=<path>
// npm run cluster:down -> stops it (kwokctl delete, then every process it started, by pid)
//
// Options: `up [--name <n>] [--nodes <k>]`, `down [--name <n>]`. The default cluster (mdcore-dev) is recorded
// in <repo>/.cluster/state.json, others in .cluster/state-<name>.json (gitignored), so several can coexist.
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { type ClusterState, REPO_ROOT, attachCluster, isProcessAlive, startCluster } from './harness.ts';

export const STATE_DIR = path.join(REPO_ROOT, '.cluster');
export const DEFAULT_NAME = 'mdcore-dev';

export function stateFile(name: string): string {
  return path.join(STATE_DIR, name === DEFAULT_NAME ? 'state.json' : `state-${name}.json`);
}

async function readState(name: string): Promise<ClusterState | undefined> {
  const file = stateFile(name);
  if (!existsSync(file)) return undefined;
  return JSON.parse(await readFile(file, 'utf8')) as ClusterState;
}

function nameOption(argv: string[], extra: { nodes?: { type: 'string' } } = {}) {
  return parseArgs({ args: argv, options: { name: { type: 'string' }, ...extra }, strict: true }).values;
}

async function up(argv: string[]): Promise<void> {
  const values = nameOption(argv, { nodes: { type: 'string' } });
  const name = values.name ?? DEFAULT_NAME;
  const file = stateFile(name);
  const existing = await readState(name);
  if (existing) {
    const alive = await Promise.all(existing.processes.map((p) => isProcessAlive(p)));
    if (alive.some(Boolean)) {
      throw new Error(`cluster ${existing.name} is already up (npm run cluster:down first); ${file}`);
    }
    await attachCluster(existing).stop(); // leftovers of a dead cluster
    await rm(file, { force: true });
  }
  const nodes = values.nodes === undefined ? 2 : Number(values.nodes);
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 50)
    throw new Error(`--nodes must be 1..50: ${values.nodes}`);
  const started = Date.now();
  const cluster = await startCluster({ name, nodes, killOnExit: false });
  await mkdir(STATE_DIR, { recursive: true });
  await writeFile(file, JSON.stringify(cluster.state(), null, 2));
  console.log(`cluster ${cluster.name} up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log(`processes: ${cluster.processes.map((p) => `${p.component}=${p.pid}`).join(' ')}`);
  console.log(`binaries: ${cluster.binDir} (helm 3: ${cluster.helm3}, helm 4: ${cluster.helm4})`);
  console.log(`stop with: npm run cluster:down${name === DEFAULT_NAME ? '' : ` -- --name ${name}`}`);
  console.log(`KUBECONFIG=${cluster.kubeconfig}`);
}

async function down(argv: string[]): Promise<void> {
  const name = nameOption(argv).name ?? DEFAULT_NAME;
  const state = await readState(name);
  if (!state) {
    console.log(`no cluster recorded in ${stateFile(name)}`);
    return;
  }
  await attachCluster(state).stop();
  await rm(stateFile(name), { force: true });
  console.log(`cluster ${state.name} stopped`);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'up') await up(rest);
  else if (command === 'down') await down(rest);
  else {
    console.error('usage: node test/e2e/cluster/cli.ts up [--name <n>] [--nodes <k>] | down [--name <n>]');
    process.exitCode = 2;
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
