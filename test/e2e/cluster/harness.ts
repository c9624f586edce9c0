// A real Kubernetes control plane for tests, the demo and benchmarks: etcd, kube-apiserver,
// kube-controller-manager and kube-scheduler built by scripts/build-cluster-tools.sh, started by kwokctl
// (binary runtime) with the kwok controller standing in for kubelets. See README.md next to this file.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { clusterStages } from './stages.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BUILD_SCRIPT = path.join(REPO_ROOT, 'scripts', 'build-cluster-tools.sh');

/** Versions the build script pins (keep in sync with scripts/build-cluster-tools.sh). */
export const KUBE_VERSION = 'v1.36.3';
export const KWOK_VERSION = 'v0.8.0';
export const ETCD_VERSION = '3.6.16';

const BINARIES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kwok',
  'kwokctl',
] as const;

/** Per-node resources. md-core requests cpu 4 / memory 4Gi / ephemeral-storage 60Gi per pod. */
export interface NodeResources {
  cpu: string;
  memory: string;
  ephemeralStorage: string;
  pods: number;
}

/** Two of these nodes hold 250 md-core pods (cpu bound: 2 x 512 / 4 = 256; pods bound: 2 x 250). */
export const DEFAULT_NODE_RESOURCES: NodeResources = {
  cpu: '512',
  memory: '2Ti',
  ephemeralStorage: '32Ti',
  pods: 250,
};

export interface StartClusterOptions {
  /** kwokctl cluster name (lowercase letters, digits, '-'). Default: mdcore-e2e-<random>. */
  name?: string;
  /** Number of simulated nodes. Default 2. */
  nodes?: number;
  /** When set, stop() copies the component logs to <logsDir>/<name>/ before deleting the cluster. */
  logsDir?: string;
  /** Cache dir printed by the build script. Default: env MDCORE_CLUSTER_TOOLS, else runs the build script. */
  toolsDir?: string;
  nodeResources?: Partial<NodeResources>;
  /** Kill the cluster's processes (by pid) if this Node.js process exits without stop(). Default true. */
  killOnExit?: boolean;
  /** Bound for `kwokctl create cluster` plus node set-up. Default 180 s. */
  timeoutMs?: number;
  /**
   * kube-apiserver audit policy (an audit.k8s.io/v1 Policy, as an object or YAML text). When set, the API server
   * writes its audit log (JSON lines) to TestCluster.auditLog. Default: no audit log.
   */
  auditPolicy?: object | string;
  /** Extra kube-apiserver flags (name without `--` to value), e.g. an egress-selector-config-file. */
  apiserverArgs?: Readonly<Record<string, string>>;
}

/** A process the cluster started, identified by pid and its kernel start time (guards against pid reuse). */
export interface ClusterProcess {
  component: string;
  pid: number;
  startTime: string;
}

/** Everything needed to find and stop a cluster again (serialisable; the CLI keeps it in a state file). */
export interface ClusterState {
  name: string;
  workdir: string;
  toolsDir: string;
  kubeconfig: string;
  processes: ClusterProcess[];
  /** The API server's audit log (JSON lines), when started with an audit policy. */
  auditLog?: string;
}

export interface TestCluster {
  name: string;
  /** Path of an admin kubeconfig (client certificates, https://127.0.0.1:<random port>). */
  kubeconfig: string;
  /** Directory with etcd, kube-*, kubectl, kwok, kwokctl. */
  binDir: string;
  kubectl: string;
  helm3: string;
  helm4: string;
  /** Temporary directory holding kwokctl's state (KWOK_WORKDIR); removed by stop(). */
  workdir: string;
  toolsDir: string;
  /** The processes kwokctl started (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok-controller). */
  processes: readonly ClusterProcess[];
  /** The API server's audit log (JSON lines) when started with `auditPolicy`; removed with the cluster by stop(). */
  auditLog?: string;
  state(): ClusterState;
  /** Copies component logs, kwokctl's config and pid files to <dir>/<name>/ and returns that directory. */
  saveLogs(dir: string): Promise<string>;
  /** Deletes the cluster, then makes sure every process it started is gone (by pid). Idempotent. */
  stop(options?: { logsDir?: string }): Promise<void>;
}

// ---- small process helpers ----------------------------------------------------------------------------------

interface RunResult {
  stdout: string;
  stderr: string;
}

function run(
  file: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        cwd: options.cwd,
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        if (error) {
          const why = error.killed
            ? `timed out after ${options.timeoutMs} ms`
            : `failed (${error.code ?? ''})`;
          reject(
            new Error(
              `${path.basename(file)} ${args.join(' ')} ${why}\n${stderr.trim().slice(-4000)}\n${stdout.trim().slice(-2000)}`,
            ),
          );
          return;
        }
        resolve({ stdout, stderr });
      },
    );
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Kernel start time and state of a pid (fields 22 and 3 of /proc/<pid>/stat), or undefined when gone. */
function procStat(pid: number, text: string | undefined): { state: string; startTime: string } | undefined {
  if (text === undefined) return undefined;
  const afterComm = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const state = afterComm[0];
  const startTime = afterComm[19];
  if (!state || !startTime) throw new Error(`unexpected /proc/${pid}/stat: ${text}`);
  return { state, startTime };
}

async function readProcStat(pid: number): Promise<{ state: string; startTime: string } | undefined> {
  try {
    return procStat(pid, await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** True while that very process (same pid AND start time) exists and is not a zombie. */
export async function isProcessAlive(p: ClusterProcess): Promise<boolean> {
  const stat = await readProcStat(p.pid);
  return stat !== undefined && stat.startTime === p.startTime && stat.state !== 'Z' && stat.state !== 'X';
}

function signal(p: ClusterProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(p.pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM, wait up to 10 s, SIGKILL, wait up to 5 s. Throws if any process survives. */
export async function killProcesses(procs: readonly ClusterProcess[]): Promise<void> {
  let alive: ClusterProcess[] = [];
  for (const p of procs) if (await isProcessAlive(p)) alive.push(p);
  for (const p of alive) signal(p, 'SIGTERM');
  for (let i = 0; i < 100 && alive.length > 0; i++) {
    await sleep(100);
    const next: ClusterProcess[] = [];
    for (const p of alive) if (await isProcessAlive(p)) next.push(p);
    alive = next;
  }
  for (const p of alive) signal(p, 'SIGKILL');
  for (let i = 0; i < 50 && alive.length > 0; i++) {
    await sleep(100);
    const next: ClusterProcess[] = [];
    for (const p of alive) if (await isProcessAlive(p)) next.push(p);
    alive = next;
  }
  if (alive.length > 0) {
    throw new Error(
      `processes still alive after SIGKILL: ${alive.map((p) => `${p.component}=${p.pid}`).join(', ')}`,
    );
  }
}

// ---- listening sockets (for the "loopback only" check) ------------------------------------------------------

export interface ListeningSocket {
  pid: number;
  address: string;
  port: number;
}

function decodeAddress(hex: string): string {
  if (hex.length === 8) {
    const bytes = hex.match(/../g)!.map((b) => parseInt(b, 16));
    return bytes.reverse().join('.');
  }
  // IPv6: four little-endian 32-bit words.
  const words = hex.match(/.{8}/g)!.map((w) => w.match(/../g)!.reverse().join(''));
  const groups = words
    .join('')
    .match(/.{4}/g)!
    .map((g) => parseInt(g, 16).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** TCP sockets in LISTEN state owned by the given pids, read from /proc (no external tools). */
export async function listeningSockets(pids: readonly number[]): Promise<ListeningSocket[]> {
  const inodeOwner = new Map<string, number>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = await readlink(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m?.[1]) inodeOwner.set(m[1], pid);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  const out: ListeningSocket[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = await readFile(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = LISTEN
      const owner = inodeOwner.get(cols[9] ?? '');
      if (owner === undefined) continue;
      const [addrHex, portHex] = (cols[1] ?? '').split(':');
      out.push({ pid: owner, address: decodeAddress(addrHex ?? ''), port: parseInt(portHex ?? '0', 16) });
    }
  }
  return out;
}

// ---- tools --------------------------------------------------------------------------------------------------

export interface ClusterTools {
  toolsDir: string;
  binDir: string;
  kubectl: string;
  kwokctl: string;
  helm3: string;
  helm4: string;
}

export function clusterTools(toolsDir: string): ClusterTools {
  const binDir = path.join(toolsDir, 'bin');
  const tools: ClusterTools = {
    toolsDir,
    binDir,
    kubectl: path.join(binDir, 'kubectl'),
    kwokctl: path.join(binDir, 'kwokctl'),
    helm3: path.join(toolsDir, 'helm3', 'helm'),
    helm4: path.join(toolsDir, 'helm4', 'helm'),
  };
  const missing = [...BINARIES.map((b) => path.join(binDir, b)), tools.helm3, tools.helm4].filter(
    (f) => !existsSync(f),
  );
  if (missing.length > 0)
    throw new Error(`cluster tools incomplete in ${toolsDir}: missing ${missing.join(', ')}`);
  return tools;
}

/**
 * Runs scripts/build-cluster-tools.sh (its progress goes to stderr) and returns the cache directory it prints
 * as its last line. A warm cache takes seconds; a cold build 15-40 minutes on 2 cores.
 */
export function buildClusterTools(options: { timeoutMs?: number } = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 90 * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [BUILD_SCRIPT], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // own process group, so a timeout can stop the whole build by its pid
    });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => process.stderr.write(d));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      reject(new Error(`build-cluster-tools.sh did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`build-cluster-tools.sh exited with ${code}`));
        return;
      }
      const dir = stdout.trim().split('\n').pop()?.trim() ?? '';
      try {
        clusterTools(dir);
        resolve(dir);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
}

/** MDCORE_CLUSTER_TOOLS when set, else the build script's cache dir (building when needed). */
export async function resolveClusterTools(): Promise<string> {
  const fromEnv = process.env.MDCORE_CLUSTER_TOOLS;
  if (fromEnv) {
    clusterTools(fromEnv);
    return fromEnv;
  }
  return buildClusterTools();
}

// ---- cluster ------------------------------------------------------------------------------------------------

function kwokEnv(tools: ClusterTools, workdir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    KWOK_WORKDIR: workdir,
    PATH: `${tools.binDir}${path.delimiter}${process.env.PATH ?? ''}`,
  };
  delete env.KUBECONFIG;
  return env;
}

function kwokctlConfig(
  tools: ClusterTools,
  auditPolicyFile?: string,
  apiserverArgs: Readonly<Record<string, string>> = {},
): string {
  const bin = (b: string): string => path.join(tools.binDir, b);
  const kwokctl = {
    apiVersion: 'config.kwok.x-k8s.io/v1alpha1',
    kind: 'KwokctlConfiguration',
    options: {
      runtime: 'binary',
      bindAddress: '127.0.0.1',
      kubeVersion: KUBE_VERSION,
      kwokVersion: KWOK_VERSION,
      etcdVersion: ETCD_VERSION,
      securePort: true,
      kubeAuthorization: true,
      kubeApiserverBinary: bin('kube-apiserver'),
      kubeControllerManagerBinary: bin('kube-controller-manager'),
      kubeSchedulerBinary: bin('kube-scheduler'),
      kwokControllerBinary: bin('kwok'),
      etcdBinary: bin('etcd'),
      kubectlBinary: bin('kubectl'),
      ...(auditPolicyFile ? { kubeAuditPolicy: auditPolicyFile } : {}),
    },
    ...(Object.keys(apiserverArgs).length
      ? {
          componentsPatches: [
            {
              name: 'kube-apiserver',
              extraArgs: Object.entries(apiserverArgs).map(([key, value]) => ({ key, value })),
            },
          ],
        }
      : {}),
  };
  return [kwokctl, ...clusterStages()].map((d) => stringify(d, { lineWidth: 0 })).join('---\n');
}

async function readPidFiles(clusterDir: string): Promise<ClusterProcess[]> {
  const dir = path.join(clusterDir, 'pids');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: ClusterProcess[] = [];
  for (const n of names.filter((f) => f.endsWith('.pid'))) {
    const pid = Number((await readFile(path.join(dir, n), 'utf8')).trim());
    if (!Number.isInteger(pid) || pid <= 1) continue;
    const stat = await readProcStat(pid);
    if (stat) out.push({ component: n.replace(/\.pid$/, ''), pid, startTime: stat.startTime });
  }
  return out;
}

const live = new Map<string, ClusterState>();
let exitHookInstalled = false;

/** Synchronous last resort: SIGKILL every live cluster's processes (identity checked) and drop its workdir. */
function killAllSync(): void {
  for (const state of live.values()) {
    for (const p of state.processes) {
      try {
        const stat = procStat(p.pid, readFileSyncSafe(`/proc/${p.pid}/stat`));
        if (stat && stat.startTime === p.startTime) process.kill(p.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      rmSync(state.workdir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  live.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // For when stop() never ran: normal exit, or a signal (e.g. a `timeout` wrapper) that would end us.
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killAllSync();
      // Ours was the only handler: restore the default action (terminate) by re-raising the signal.
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

function readFileSyncSafe(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Re-creates a TestCluster handle from a saved state (e.g. by `cluster:down`). */
export function attachCluster(state: ClusterState, defaults: { logsDir?: string } = {}): TestCluster {
  const tools = clusterTools(state.toolsDir);
  const clusterDir = path.join(state.workdir, 'clusters', state.name);
  let stopped = false;

  const saveLogs = async (dir: string): Promise<string> => {
    const dest = path.join(dir, state.name);
    await mkdir(dest, { recursive: true });
    for (const sub of ['logs', 'pids', 'kwok.yaml', 'kwok-controller.yaml']) {
      const src = path.join(clusterDir, sub);
      if (existsSync(src)) await cp(src, path.join(dest, sub), { recursive: true });
    }
    const own = path.join(state.workdir, 'kwokctl-config.yaml');
    if (existsSync(own)) await cp(own, path.join(dest, 'kwokctl-config.yaml'));
    await writeFile(path.join(dest, 'processes.json'), JSON.stringify(state.processes, null, 2));
    return dest;
  };

  return {
    name: state.name,
    kubeconfig: state.kubeconfig,
    binDir: tools.binDir,
    kubectl: tools.kubectl,
    helm3: tools.helm3,
    helm4: tools.helm4,
    workdir: state.workdir,
    toolsDir: state.toolsDir,
    ...(state.auditLog ? { auditLog: state.auditLog } : {}),
    get processes() {
      return state.processes;
    },
    state: () => structuredClone(state),
    saveLogs,
    async stop(options = {}) {
      if (stopped) return;
      stopped = true;
      const problems: string[] = [];
      // Union of what we recorded at start and what kwokctl's pid files say now.
      const procs = new Map(state.processes.map((p) => [`${p.pid}:${p.startTime}`, p]));
      for (const p of await readPidFiles(clusterDir)) procs.set(`${p.pid}:${p.startTime}`, p);
      const logsDir = options.logsDir ?? defaults.logsDir;
      if (logsDir) {
        try {
          await saveLogs(logsDir);
        } catch (e) {
          problems.push(`saving logs: ${String(e)}`);
        }
      }
      if (existsSync(clusterDir)) {
        try {
          // `delete` rejects an empty --kubeconfig; point it at a file of ours so ~/.kube/config is never touched.
          const unused = path.join(state.workdir, 'kwokctl-unused-kubeconfig');
          await run(tools.kwokctl, ['delete', 'cluster', '--name', state.name, '--kubeconfig', unused], {
            env: kwokEnv(tools, state.workdir),
            timeoutMs: 60_000,
          });
        } catch (e) {
          problems.push(String(e));
        }
      }
      try {
        await killProcesses([...procs.values()]);
      } catch (e) {
        problems.push(String(e));
      }
      live.delete(state.name);
      await rm(state.workdir, { recursive: true, force: true, maxRetries: 3 });
      if (problems.length > 0) throw new Error(`stopping cluster ${state.name}: ${problems.join('\n')}`);
    },
  };
}

const CREATE_LOCK = path.join(tmpdir(), 'mdcore-kwokctl-create.lock');

/**
 * kwokctl picks its "free" ports when it creates a cluster and its components bind them moments later, so two
 * creates at the same time (the e2e suite, the soak suite, a second engineer) can pick the same port. One
 * create at a time on this machine; a lock left by a process that is gone is taken over.
 */
async function withCreateLock<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const me = `${process.pid} ${(await readProcStat(process.pid))?.startTime ?? ''}`;
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; ; i++) {
    try {
      await writeFile(CREATE_LOCK, me, { flag: 'wx' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = (await readFile(CREATE_LOCK, 'utf8').catch(() => '')).split(' ');
      const pid = Number(holder[0]);
      const alive =
        Number.isInteger(pid) &&
        pid > 0 &&
        (await isProcessAlive({ component: 'lock holder', pid, startTime: holder[1] ?? '' }));
      if (!alive) await rm(CREATE_LOCK, { force: true });
      else if (Date.now() > deadline || i > 2_000) {
        throw new Error(
          `another cluster is being created (pid ${pid} holds ${CREATE_LOCK}); gave up waiting`,
          { cause: e },
        );
      } else await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    if ((await readFile(CREATE_LOCK, 'utf8').catch(() => '')) === me) await rm(CREATE_LOCK, { force: true });
  }
}

/** Starts a cluster: kwokctl create (binary runtime), nodes, wait until usable. */
export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  const toolsDir = options.toolsDir ?? (await resolveClusterTools());
  const tools = clusterTools(toolsDir);
  const name = options.name ?? `mdcore-e2e-${randomBytes(3).toString('hex')}`;
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name)) throw new Error(`invalid cluster name: ${name}`);
  const nodes = options.nodes ?? 2;
  const res = { ...DEFAULT_NODE_RESOURCES, ...options.nodeResources };
  const timeoutMs = options.timeoutMs ?? 180_000;
  const deadline = Date.now() + timeoutMs;
  const remaining = (): number => Math.max(1_000, deadline - Date.now());

  const workdir = await mkdtemp(path.join(tmpdir(), 'mdcore-kwok-'));
  const clusterDir = path.join(workdir, 'clusters', name);
  const configPath = path.join(workdir, 'kwokctl-config.yaml');
  let auditPolicyFile: string | undefined;
  if (options.auditPolicy !== undefined) {
    auditPolicyFile = path.join(workdir, 'audit-policy.yaml');
    const policy = options.auditPolicy;
    await writeFile(
      auditPolicyFile,
      typeof policy === 'string' ? policy : stringify(policy, { lineWidth: 0 }),
    );
  }
  await writeFile(configPath, kwokctlConfig(tools, auditPolicyFile, options.apiserverArgs));
  const env = kwokEnv(tools, workdir);
  const kubeconfig = path.join(workdir, 'kubeconfig.yaml');

  const state: ClusterState = { name, workdir, toolsDir, kubeconfig, processes: [] };
  // kwokctl (binary runtime) has the API server write the audit log to <cluster dir>/logs/audit.log.
  if (auditPolicyFile) state.auditLog = path.join(clusterDir, 'logs', 'audit.log');
  if (options.killOnExit ?? true) {
    installExitHook();
    live.set(name, state);
  }
  const cluster = attachCluster(state, { logsDir: options.logsDir });
  try {
    try {
      await withCreateLock(remaining(), () =>
        run(
          tools.kwokctl,
          ['create', 'cluster', '--name', name, '--config', configPath, '--kubeconfig=', '--wait', '120s'],
          { env, timeoutMs: remaining() },
        ),
      );
    } finally {
      // Record the processes even when creation failed half-way, so stop() can end them.
      state.processes = await readPidFiles(clusterDir);
    }
    await cp(path.join(clusterDir, 'kubeconfig.yaml'), kubeconfig);
    const param =
      `.allocatable = {"cpu": "${res.cpu}", "memory": "${res.memory}", ` +
      `"ephemeral-storage": "${res.ephemeralStorage}", "pods": "${res.pods}"}`;
    await run(
      tools.kwokctl,
      ['scale', 'node', '--name', name, '--replicas', String(nodes), '--param', param],
      {
        env,
        timeoutMs: remaining(),
      },
    );
    const kubectl = (args: string[]): Promise<RunResult> =>
      run(tools.kubectl, ['--kubeconfig', kubeconfig, ...args], { env, timeoutMs: remaining() });
    await kubectl([
      'wait',
      '--for=condition=Ready',
      'nodes',
      '--all',
      `--timeout=${Math.ceil(remaining() / 1000)}s`,
    ]);
    // Pods can only be created once the namespace's default ServiceAccount exists.
    for (let i = 0; ; i++) {
      try {
        await kubectl(['get', 'serviceaccount', 'default', '--namespace', 'default', '-o', 'name']);
        break;
      } catch (e) {
        if (i >= 120 || Date.now() > deadline) throw e;
        await sleep(500);
      }
    }
    return cluster;
  } catch (e) {
    const logsDir = options.logsDir ?? path.join(REPO_ROOT, '.cluster', 'failed-starts');
    await cluster.stop({ logsDir }).catch((stopError: unknown) => {
      console.error(`cleanup after failed start also failed: ${String(stopError)}`);
    });
    throw new Error(`starting cluster ${name} failed (logs in ${logsDir}/${name}): ${String(e)}`, {
      cause: e,
    });
  }
}

// ---- faults ------------------------------------------------------------------------------------------------

/** How a running component was started: enough to start the very same program again. */
interface Launch {
  process: ClusterProcess;
  argv: string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
}

async function captureLaunch(clusterDir: string, component: string): Promise<Launch> {
  const pidFile = path.join(clusterDir, 'pids', `${component}.pid`);
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  const stat = Number.isInteger(pid) && pid > 1 ? await readProcStat(pid) : undefined;
  if (!stat) throw new Error(`${component} is not running (its pid file says ${pid})`);
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((a) => a !== '');
  if (!argv[0] || path.basename(argv[0]) !== component) {
    throw new Error(`pid ${pid} is not ${component}: ${argv[0] ?? '(no command line)'}`);
  }
  const env: NodeJS.ProcessEnv = {};
  for (const kv of (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  const cwd = await readlink(`/proc/${pid}/cwd`);
  return { process: { component, pid, startTime: stat.startTime }, argv, env, cwd };
}

/**
 * Starts a captured program again, detached, output appended to its log; its pid goes into kwokctl's pid file
 * (so stop() and `kwokctl delete` end it) and, when this process started the cluster, into its records.
 */
async function relaunch(clusterName: string, clusterDir: string, l: Launch): Promise<ClusterProcess> {
  const component = l.process.component;
  const logFile = path.join(clusterDir, 'logs', `${component}.log`);
  await mkdir(path.dirname(logFile), { recursive: true });
  const log = openSync(logFile, 'a');
  let pid: number;
  try {
    const child = spawn(l.argv[0] as string, l.argv.slice(1), {
      cwd: l.cwd,
      env: l.env,
      detached: true,
      stdio: ['ignore', log, log],
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${component} again`);
    pid = child.pid;
  } finally {
    closeSync(log);
  }
  await writeFile(path.join(clusterDir, 'pids', `${component}.pid`), `${pid}\n`);
  const started: ClusterProcess = { component, pid, startTime: (await readProcStat(pid))?.startTime ?? '' };
  const state = live.get(clusterName);
  if (state) state.processes = [...state.processes.filter((p) => p.pid !== l.process.pid), started];
  return started;
}

export interface ApiserverRestart {
  old: ClusterProcess;
  started: ClusterProcess;
  /** From SIGTERM to the first ready answer of the new process. */
  downMs: number;
  /** Components that exited while the API server was away and were started again (as a kubelet would). */
  relaunched: string[];
}

/** Control-plane components that may exit when they lose their leader lease during an API server outage. */
const LEASE_HOLDERS = ['kube-controller-manager', 'kube-scheduler'] as const;

/**
 * Kills the cluster's kube-apiserver (SIGTERM, by pid) and starts the very same program again: same arguments,
 * environment and working directory, so the same ports and certificates. Resolves once /readyz answers again
 * and the controller-manager and scheduler are running: a component that exited because its leader lease ran
 * out during the outage is started again the same way, as the kubelet restarts a static pod.
 */
export async function restartApiserver(
  cluster: Pick<TestCluster, 'name' | 'workdir' | 'kubeconfig' | 'kubectl'>,
  options: { readyTimeoutMs?: number } = {},
): Promise<ApiserverRestart> {
  const clusterDir = path.join(cluster.workdir, 'clusters', cluster.name);
  const apiserver = await captureLaunch(clusterDir, 'kube-apiserver');
  const others: Launch[] = [];
  for (const c of LEASE_HOLDERS) others.push(await captureLaunch(clusterDir, c));

  const killedAt = Date.now();
  await killProcesses([apiserver.process]);
  const started = await relaunch(cluster.name, clusterDir, apiserver);

  const timeoutMs = options.readyTimeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  let downMs: number | undefined;
  for (let i = 0; i < Math.ceil(timeoutMs / 250) + 1 && downMs === undefined; i++) {
    if (!(await isProcessAlive(started))) {
      throw new Error(
        `the restarted kube-apiserver (pid ${started.pid}) exited; see its log in ${clusterDir}/logs`,
      );
    }
    try {
      const r = await run(
        cluster.kubectl,
        ['--kubeconfig', cluster.kubeconfig, 'get', '--raw', '/readyz', '--request-timeout=5s'],
        { timeoutMs: 10_000 },
      );
      if (r.stdout.trim() === 'ok') downMs = Date.now() - killedAt;
    } catch (e) {
      lastError = String(e);
    }
    if (downMs === undefined) {
      if (Date.now() > deadline) break;
      await sleep(250);
    }
  }
  if (downMs === undefined) {
    throw new Error(
      `the restarted kube-apiserver (pid ${started.pid}) was not ready within ${timeoutMs} ms: ${lastError}`,
    );
  }
  // A lease holder gives up within its renew deadline (10 s) after the last renewal, so watch a while longer.
  const relaunched: string[] = [];
  for (let i = 0; i < 20 && relaunched.length < others.length; i++) {
    for (const o of others) {
      if (relaunched.includes(o.process.component) || (await isProcessAlive(o.process))) continue;
      await relaunch(cluster.name, clusterDir, o);
      relaunched.push(o.process.component);
    }
    await sleep(1_000);
  }
  return { old: apiserver.process, started, downMs, relaunched };
}
