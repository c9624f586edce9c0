// The ToolProvider the entries use: installs kubectl / helm once per run, on first need.
import type { Plan } from '../plan/plan.ts';
import type { Reporter } from '../report/reporter.ts';
import type { ToolProvider } from './context.ts';

export function installingTools(
  plan: Plan,
  reporter: Reporter,
  onInstalled?: (tool: string, path: string) => void,
): ToolProvider {
  const cache = new Map<string, Promise<string>>();
  const unverified: string[] = [];
  const once = (
    tool: 'kubectl' | 'helm',
    install: () => Promise<{ path: string; version: string; source: string; unverified?: string }>,
  ): Promise<string> => {
    let p = cache.get(tool);
    if (!p) {
      p = install().then((t) => {
        reporter.info(`${tool} ${t.version} (${t.source}): ${t.path}`);
        if (t.unverified !== undefined) {
          unverified.push(`${tool} ${t.version} from PATH (${t.path}) was used unverified: ${t.unverified}`);
        }
        onInstalled?.(tool, t.path);
        return t.path;
      });
      cache.set(tool, p);
    }
    return p;
  };
  const common = {
    pathTools: plan.pathTools,
    ...(plan.toolsMirror ? { mirror: plan.toolsMirror, allowInsecureHttp: plan.allowInsecureHttp } : {}),
  };
  return {
    unverified: () => unverified,
    kubectl: () =>
      once('kubectl', async () =>
        (await import('../tools/install.ts')).installKubectl({
          version: plan.kubectlVersion,
          reporter,
          ...common,
        }),
      ),
    helm: () =>
      once('helm', async () =>
        (await import('../tools/install.ts')).installHelm({ version: plan.helmVersion, reporter, ...common }),
      ),
  };
}
