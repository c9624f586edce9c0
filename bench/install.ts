// Benchmark (not a test): cold and cached installs of kubectl and helm from a tools mirror on 127.0.0.1 serving
// the real binaries. A cold install starts from an empty tool cache (look-up of the checksum, download, SHA-256,
// extraction for helm, version check, caching); a cached one finds the same version in the tool cache.
// Usage: node bench/install.ts [repetitions]   Writes bench/results/install-<date>.json.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MemoryReporter } from '../src/report/reporter.ts';
import {
  installHelm,
  installKubectl,
  type InstallOptions,
  type InstalledTool,
} from '../src/tools/install.ts';
import { toolPlatform } from '../src/tools/platform.ts';
import { helmArchiveName, kubectlBinaryPath } from '../src/tools/sources.ts';
import {
  clusterTools,
  HELM3_VERSION,
  KUBECTL_VERSION,
  officialLayout,
  startMirror,
} from '../test/integration/tools-mirror.ts';

const repetitions = Math.min(Math.max(Number(process.argv[2] ?? 7) || 7, 1), 50);
const deadline = Date.now() + 15 * 60_000;
const platform = toolPlatform(process.platform, process.arch);

interface Stats {
  runs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  p25Ms: number;
  p75Ms: number;
  samplesMs: number[];
}

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const q = (f: number): number => {
    const i = (s.length - 1) * f;
    const lo = Math.floor(i);
    const hi = Math.ceil(i);
    return round((s[lo] ?? 0) + ((s[hi] ?? 0) - (s[lo] ?? 0)) * (i - lo));
  };
  return {
    runs: s.length,
    medianMs: q(0.5),
    minMs: round(s[0] ?? 0),
    maxMs: round(s.at(-1) ?? 0),
    p25Ms: q(0.25),
    p75Ms: q(0.75),
    samplesMs: samples.map(round),
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

async function timed(fn: () => Promise<InstalledTool>, expected: InstalledTool['source']): Promise<number> {
  const t0 = performance.now();
  const got = await fn();
  const ms = performance.now() - t0;
  if (got.source !== expected) throw new Error(`expected a ${expected} install, got ${got.source}`);
  return ms;
}

async function main(): Promise<void> {
  const tools = await clusterTools();
  const layout = await officialLayout(tools);
  const mirror = await startMirror(layout);
  const work = await mkdtemp(path.join(tmpdir(), 'bench-install-'));
  const samples: Record<string, number[]> = {
    kubectlCold: [],
    kubectlCached: [],
    helmCold: [],
    helmCached: [],
  };
  try {
    const emptyPath = path.join(work, 'empty-path');
    await mkdir(emptyPath);
    for (let i = 0; i < repetitions && Date.now() < deadline; i++) {
      const round = path.join(work, `r${i}`);
      process.env['RUNNER_TOOL_CACHE'] = path.join(round, 'toolcache');
      process.env['RUNNER_TEMP'] = path.join(round, 'temp');
      await mkdir(process.env['RUNNER_TEMP'], { recursive: true });
      const opts = (version: string): InstallOptions => ({
        version,
        mirror: mirror.url,
        reporter: new MemoryReporter(),
        searchPath: emptyPath,
      });
      samples['kubectlCold']!.push(await timed(() => installKubectl(opts(KUBECTL_VERSION)), 'download'));
      samples['kubectlCached']!.push(await timed(() => installKubectl(opts(KUBECTL_VERSION)), 'cache'));
      samples['helmCold']!.push(await timed(() => installHelm(opts(HELM3_VERSION)), 'download'));
      samples['helmCached']!.push(await timed(() => installHelm(opts(HELM3_VERSION)), 'cache'));
      await rm(round, { recursive: true, force: true });
    }
  } finally {
    await mirror.close();
    await rm(work, { recursive: true, force: true });
  }
  const result = {
    benchmark: 'install',
    date: new Date().toISOString(),
    what:
      'installKubectl / installHelm from a loopback mirror serving real binaries; cold = empty tool cache ' +
      '(checksum look-up, download, SHA-256, helm extraction, version check, cache), cached = tool-cache hit',
    versions: { kubectl: KUBECTL_VERSION, helm: HELM3_VERSION },
    bytes: {
      kubectl: layout.get(kubectlBinaryPath(KUBECTL_VERSION, platform))?.length ?? null,
      helmArchive: layout.get(helmArchiveName(HELM3_VERSION, platform))?.length ?? null,
    },
    machine: {
      node: process.version,
      platform: process.platform,
      arch: process.arch,
      cpus: cpus().length,
      loadAverage1mAtEnd: Math.round(loadavg()[0]! * 100) / 100,
    },
    repetitions,
    results: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)])),
  };
  const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `install-${result.date.slice(0, 10)}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  for (const [k, v] of Object.entries(result.results)) {
    console.error(
      `${k.padEnd(14)} median ${v.medianMs} ms  (min ${v.minMs}, p25 ${v.p25Ms}, p75 ${v.p75Ms}, max ${v.maxMs})`,
    );
  }
  console.error(`wrote ${path.relative(process.cwd(), file)}`);
}

await main();
