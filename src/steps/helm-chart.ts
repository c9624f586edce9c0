// Which chart the helm route upgrades with: the `chart` input (a path, or a repository reference with
// `chart-version`), else the chart the release was deployed with, rebuilt from Helm's release record.
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { kubectlArgsFor, type RunContext } from '../engine/context.ts';
import { runTool } from '../tools/exec.ts';
import type { K8sObject } from './helm-guards.ts';
import { decodeReleaseField, releaseRecordName, writeChart } from './helm-release.ts';

function fail(message: string): never {
  throw new Error(`${message}\nNothing in the cluster was changed.`);
}

/** `kubectl get <kind> <name> -o json`, undefined when it does not exist. Output is never logged. */
export async function getObject(ctx: RunContext, kind: string, name: string): Promise<K8sObject | undefined> {
  const r = await runTool(ctx.reporter, ctx.kubectl, kubectlArgsFor(ctx, 'get', kind, name, '-o', 'json'), {
    allowFailure: true,
  });
  if (r.exitCode === 0) return JSON.parse(r.stdout) as K8sObject;
  if (/NotFound|not found/.test(r.stderr)) return undefined;
  throw new Error(
    `reading ${kind}/${name}: ${ctx.reporter.mask(r.stderr.trim().split('\n').slice(-3).join(' '))}`,
  );
}

/** The chart the release's current revision was deployed with, written to a private directory. */
async function deployedChart(
  ctx: RunContext,
  release: string,
  revision: number,
): Promise<{ dir: string; name: string; version: string }> {
  const recordName = releaseRecordName(release, revision);
  const secret = await getObject(ctx, 'secret', recordName);
  let field: string | undefined;
  if (secret) {
    const data = secret.data as Record<string, string> | undefined;
    if (data?.release) field = Buffer.from(data.release, 'base64').toString('utf8');
  } else {
    // HELM_DRIVER=configmap keeps the same record in a ConfigMap, without Kubernetes' base64 layer.
    const cm = await getObject(ctx, 'configmap', recordName);
    field = (cm?.data as Record<string, string> | undefined)?.release;
  }
  if (!field) {
    fail(
      `The release record ${recordName} was not found (Secret or ConfigMap), so the deployed chart cannot be re-used. Give the 'chart' input (a chart path, or a repository reference with 'chart-version').`,
    );
  }
  const rec = decodeReleaseField(field);
  // The work directory is removed by the engine at the end of the run, with the kubeconfig file.
  const dir = mkdtempSync(path.join(path.dirname(ctx.kubeconfigFile), 'deployed-chart-'));
  return {
    dir: writeChart(rec.chart, dir),
    name: String(rec.chart.metadata.name ?? '?'),
    version: String(rec.chart.metadata.version ?? '?'),
  };
}

export interface ChartChoice {
  chart: string;
  sendVersion: boolean;
  describe: string;
}

export async function resolveChart(ctx: RunContext, release: string, revision: number): Promise<ChartChoice> {
  const { plan } = ctx;
  if (plan.chart) {
    const local = existsSync(plan.chart);
    if (!local) {
      return {
        chart: plan.chart,
        sendVersion: true,
        describe: `${plan.chart}${plan.chartVersion ? ` version ${plan.chartVersion}` : ' (newest version)'}`,
      };
    }
    const chartYaml = statSync(plan.chart).isDirectory() ? path.join(plan.chart, 'Chart.yaml') : undefined;
    const version =
      chartYaml && existsSync(chartYaml)
        ? String((parse(readFileSync(chartYaml, 'utf8')) as { version?: unknown } | null)?.version ?? '')
        : undefined;
    if (plan.chartVersion && version !== undefined && version !== plan.chartVersion) {
      fail(
        `input 'chart-version' is ${plan.chartVersion} but the chart at ${plan.chart} is version ${version}. A local chart has only the version it has: fix one of the two inputs.`,
      );
    }
    return {
      chart: plan.chart,
      sendVersion: false,
      describe: `${plan.chart}${version ? ` (version ${version})` : ''}`,
    };
  }
  if (plan.chartVersion) {
    fail(
      `input 'chart-version' needs the 'chart' input: the release record does not say which repository the chart came from. Give 'chart' as a repository reference (e.g. <repo-name>/metadefender_core after 'helm repo add') or a path.`,
    );
  }
  const c = await deployedChart(ctx, release, revision);
  return {
    chart: c.dir,
    sendVersion: false,
    describe: `the deployed chart ${c.name} ${c.version} (rebuilt from release revision ${revision})`,
  };
}
