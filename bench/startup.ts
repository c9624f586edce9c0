// Start-up of `node dist/index.js` measured as whole processes: a bad input refused (what a typo in a workflow
// costs) against a bare `node -e 0` on the same machine in the same run, interleaved so load hits both alike;
// and, with --first-request, start → the first API request (a stand-in API server on 127.0.0.1 that records the
// moment the first request arrives and answers 503, which ends the run).
//
// Usage: node bench/startup.ts [--runs 21] [--dist dist] [--compare other-dist] [--first-request]
// --compare measures a second build (e.g. of an older commit) in the same loop, run for run alternating.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { actionInputDefaults } from './runners.ts';
import { stats, type Stats } from './stats.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const runs = Math.min(Math.max(Number(argValue('runs') ?? 21) || 21, 1), 200);
const dists = [path.resolve(argValue('dist') ?? path.join(REPO_ROOT, 'dist'))];
const compare = argValue('compare');
if (compare) dists.push(path.resolve(compare));
const CAP_MS = 30_000;

/** Runs a process to its end (stopped by its pid at the cap); returns wall ms from spawn to exit. */
function timed(args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; code: number | null }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'ignore'] });
    const cap = setTimeout(() => p.kill('SIGKILL'), CAP_MS);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(cap);
      resolve({ ms: performance.now() - t0, code });
    });
  });
}

function runnerEnv(dir: string, inputs: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    RUNNER_TEMP: dir,
    GITHUB_ACTIONS: 'true',
  };
  for (const f of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_STEP_SUMMARY', 'GITHUB_ENV']) {
    env[f] = path.join(dir, f.toLowerCase());
    writeFileSync(env[f], '');
  }
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return env;
}

const fmt = (s: Stats | undefined): string =>
  s ? `${s.median} ms (${s.min} – ${s.max}, IQR ${s.p25} – ${s.p75}) ×${s.n}` : 'n/a';

const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-startup-'));
try {
  const defaults = actionInputDefaults(REPO_ROOT);
  // A typo a workflow could have: a namespace Kubernetes would refuse. Parsing refuses it before any cluster work.
  const badEnv = runnerEnv(dir, { ...defaults, namespace: 'Not_A_Namespace!', tag: '5.20.0' });
  const bare: number[] = [];
  const bad: number[][] = dists.map(() => []);
  const loads: number[] = [];
  for (let i = 0; i < runs; i++) {
    loads.push(loadavg()[0]!);
    bare.push((await timed(['-e', '0'], badEnv)).ms);
    for (const [j, dist] of dists.entries()) {
      const r = await timed([path.join(dist, 'index.js')], badEnv);
      if (r.code !== 1) throw new Error(`a bad input should exit 1, got ${String(r.code)} (${dist})`);
      bad[j]!.push(r.ms);
    }
  }
  const sb = stats(bare);
  process.stdout.write(
    `load (1 min) ${stats(loads)?.median ?? 0} (${stats(loads)?.min ?? 0} – ${stats(loads)?.max ?? 0})\n` +
      `node -e 0: ${fmt(sb)}\n`,
  );
  for (const [j, dist] of dists.entries()) {
    const sr = stats(bad[j]!);
    process.stdout.write(
      `${path.relative(process.cwd(), dist) || dist}/index.js, bad input: ${fmt(sr)}; ratio of medians to node -e 0: ${sb && sr ? (sr.median / sb.median).toFixed(2) : 'n/a'}×\n`,
    );
  }

  if (process.argv.includes('--first-request')) {
    let firstAt = 0;
    const server = createServer((_req, res) => {
      if (firstAt === 0) firstAt = performance.now();
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"kind":"Status","code":503,"message":"bench stand-in"}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as AddressInfo;
    const kubeconfig = [
      'apiVersion: v1',
      'kind: Config',
      `clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]`,
      'users: [{name: u, user: {token: bench}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ].join('\n');
    const env = runnerEnv(dir, {
      ...defaults,
      namespace: 'bench',
      tag: '5.20.0',
      method: 'kubectl',
      kubeconfig,
    });
    const first: number[][] = dists.map(() => []);
    try {
      for (let i = 0; i < runs; i++) {
        for (const [j, dist] of dists.entries()) {
          firstAt = 0;
          const t0 = performance.now();
          await timed([path.join(dist, 'index.js')], env);
          if (firstAt > 0) first[j]!.push(firstAt - t0);
        }
      }
    } finally {
      server.close();
    }
    for (const [j, dist] of dists.entries()) {
      process.stdout.write(
        `${path.relative(process.cwd(), dist) || dist}/index.js, start → first API request: ${fmt(stats(first[j]!))}\n`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
