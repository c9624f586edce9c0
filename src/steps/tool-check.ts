// One cheap read through kubectl, and one through helm on the helm route, before anything is changed: the API
// client and the CLI tools load credentials differently (kubeconfig-file.ts), so a credential the client accepts
// can still be one a tool refuses. Found here, that is a clean stop instead of a failure half-way through.
import { kubectlArgsFor } from '../engine/context.ts';
import type { Target } from '../engine/target.ts';
import type { StepHandle } from '../engine/timeline.ts';
import type { Reporter } from '../report/reporter.ts';
import { formatCommand, runTool, type ExecResult } from '../tools/exec.ts';

export interface ToolCheckDeps {
  readonly target: Pick<Target, 'namespace' | 'deployment'>;
  readonly reporter: Reporter;
  readonly kubeconfigFile: string;
}

const HINTS: readonly [RegExp, string][] = [
  [
    /no Auth Provider found for name/i,
    "the kubeconfig's user names an auth-provider the tool does not have: give the user a token, tokenFile, client certificate or exec plugin instead",
  ],
  [
    /Unauthorized|must be logged in/i,
    'the API server rejected the credentials: check that the token or certificate is current',
  ],
  [/forbidden/i, 'the identity lacks a permission the tool needs: see the permission list in the README'],
  [
    /x509|certificate/i,
    "the tool does not trust the API server's certificate: check the cluster's certificate-authority",
  ],
  [
    /connection refused|no such host|i\/o timeout|dial tcp|deadline exceeded/i,
    'the tool could not reach the API server from this runner',
  ],
  [/executable file not found|exec format error|permission denied/i, 'the tool itself could not run'],
];

/** The error a failed check throws: the tool, what it printed (masked), and that nothing was changed. */
export function toolCheckError(
  tool: 'kubectl' | 'helm',
  command: string,
  result: ExecResult,
  mask: (text: string) => string,
): Error {
  const output = mask((result.stderr || result.stdout).trim().split('\n').slice(-6).join('\n'));
  const hint = HINTS.find(([re]) => re.test(output))?.[1];
  return new Error(
    [
      `${tool} could not read from the cluster with the credentials this run loaded: \`${command}\` exited with code ${result.exitCode}${output ? `:\n${output}` : ''}`,
      ...(hint ? [`Likely cause: ${hint}.`] : []),
      `Nothing in the cluster was changed. Fix the ${tool} access (run the command above on the runner to try it) and run again.`,
    ].join('\n'),
  );
}

/**
 * `kubectl get --raw` of the Deployment through the file the later kubectl calls use: one request (a plain
 * `kubectl get deployment/<name>` would first discover the API, two more requests).
 */
export async function checkKubectl(deps: ToolCheckDeps, kubectl: string, step: StepHandle): Promise<void> {
  const { target, reporter } = deps;
  const path = `/apis/apps/v1/namespaces/${target.namespace}/deployments/${target.deployment}`;
  const args = kubectlArgsFor(deps, 'get', '--raw', path);
  const shown = reporter.mask(formatCommand('kubectl', args));
  const r = await runTool(reporter, kubectl, args, { allowFailure: true });
  if (r.exitCode !== 0) throw toolCheckError('kubectl', shown, r, (t) => reporter.mask(t));
  const seen = seenObject(r.stdout);
  // The API client read this Deployment moments ago: anything else means kubectl talks to another cluster.
  if (seen !== `${target.namespace}/${target.deployment}`) {
    throw new Error(
      `kubectl does not see Deployment ${target.namespace}/${target.deployment} that the API client read (\`${shown}\` printed "${reporter.mask(r.stdout.trim().slice(0, 120))}"): the two talk to different clusters or namespaces. Nothing in the cluster was changed.`,
    );
  }
  step.detail(`kubectl reads the cluster with the run's credentials (deployment.apps/${target.deployment})`);
}

/** `namespace/name` of the object a raw GET printed, or '' when it printed something else. */
function seenObject(stdout: string): string {
  try {
    const o = JSON.parse(stdout) as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
    if (o.kind !== 'Deployment') return '';
    return `${String(o.metadata?.namespace)}/${String(o.metadata?.name)}`;
  } catch {
    return '';
  }
}

function goRegexpLiteral(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `helm list` of the release through the file the later helm calls use. No status flag: Helm 4 has no `--all`
 * (it lists every status), and only the answer matters here; `helm history` reads the release's state next.
 */
export async function checkHelm(
  deps: ToolCheckDeps,
  helm: string,
  release: string,
  step: StepHandle,
): Promise<void> {
  const { target, reporter } = deps;
  const args = [
    'list',
    '--namespace',
    target.namespace,
    '--kubeconfig',
    deps.kubeconfigFile,
    '--filter',
    `^${goRegexpLiteral(release)}$`,
    '--output',
    'json',
  ];
  const shown = reporter.mask(formatCommand('helm', args));
  const r = await runTool(reporter, helm, args, { allowFailure: true });
  if (r.exitCode !== 0) throw toolCheckError('helm', shown, r, (t) => reporter.mask(t));
  let found: unknown;
  try {
    found = JSON.parse(r.stdout);
  } catch {
    found = undefined;
  }
  if (!Array.isArray(found)) {
    throw new Error(
      `helm printed something other than a release list for \`${shown}\`: "${reporter.mask(r.stdout.trim().slice(0, 120))}". Nothing in the cluster was changed.`,
    );
  }
  step.detail(
    `helm reads the cluster with the run's credentials (helm list answered in ${target.namespace})`,
  );
}
