// `--print-role`: the Role (and RoleBinding) a run with the given inputs needs, from the same rules preflight
// checks (rbac.ts). Nothing is contacted: the ConfigMaps are the chart's, the route is the one `method` names.
import { formatInputErrors, parseInputs } from './inputs.ts';
import { pausesKeda } from '../steps/keda.ts';
import { chartConfigMaps, rbacRules, roleYaml, type RouteName } from './rbac.ts';

/** Any tag: no permission depends on it, and `--print-role` should not make the user invent one. */
const ANY_TAG = '0';

/**
 * `value` is `true` (bind the ServiceAccount mdcore-upgrader of md-core's namespace) or `<namespace>/<name>` of
 * the ServiceAccount to bind, e.g. a runner's in another namespace.
 */
export function printRole(
  inputs: Readonly<Record<string, string>>,
  value: string,
): { ok: true; text: string } | { ok: false; message: string } {
  const parsed = parseInputs({ tag: ANY_TAG, ...inputs });
  if (!parsed.ok) return { ok: false, message: formatInputErrors(parsed.errors) };
  const plan = parsed.plan;
  let serviceAccount: { name: string; namespace: string } | undefined;
  if (value !== 'true') {
    const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(value);
    if (!m?.[1] || !m[3]) {
      return {
        ok: false,
        message: `--print-role takes no value, or the ServiceAccount to bind as <namespace>/<name> (got "${value}")`,
      };
    }
    serviceAccount = { namespace: m[1], name: m[3] };
  }
  // auto takes helm for a Helm-managed Deployment, and the helm Role covers the kubectl route's needs too.
  const route: RouteName = plan.method === 'kubectl' ? 'kubectl' : 'helm';
  const rules = rbacRules(plan, { route });
  const header = [
    `# mdcore-upgrade-action, ${route} route${plan.method === 'auto' ? " (method auto; with 'method: kubectl' the Role is smaller)" : ''}: Deployment ${plan.deployment} in namespace ${plan.namespace}.`,
    ...(route === 'kubectl'
      ? [
          `# ConfigMaps: the chart's (${chartConfigMaps(plan.release).join(', ')}); preflight checks the ones md-core really reads.`,
        ]
      : []),
    ...(pausesKeda(plan)
      ? [
          '# Where KEDA is installed (keda.sh/v1alpha1 served), preflight also needs list and patch on scaledobjects in apiGroup keda.sh (README.md, the KEDA rules).',
        ]
      : []),
  ];
  const text = roleYaml(rules, {
    namespace: plan.namespace,
    ...(serviceAccount ? { serviceAccount } : {}),
  });
  return { ok: true, text: `${header.join('\n')}\n${text}` };
}
