// The permission rules: derived from the Plan and the route, turned into preflight's checks and into the Role
// YAML; README.md's Roles are exactly what the function prints.
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { V1Deployment } from '@kubernetes/client-node';
import { main } from '../../src/cli.ts';
import { KubeError, type AccessCheck, type Kube } from '../../src/cluster/kube.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import {
  accessChecks,
  addedRules,
  rbacRules,
  roleYaml,
  routeFor,
  rulesYaml,
  type PolicyRule,
  type RouteName,
} from '../../src/plan/rbac.ts';
import { describeAccess, preflight, PreflightError, requiredAccess } from '../../src/steps/preflight.ts';
import { helmAccess } from '../../src/steps/route-helm.ts';
import { rbacBlock, readmeText } from '../support/readme-blocks.ts';

function plan(inputs: Record<string, string> = {}): Plan {
  const parsed = parseInputs({ namespace: 'mdcore', tag: '5.20.0', ...inputs });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
  return parsed.plan;
}

function find(rules: readonly PolicyRule[], resource: string, named = false): PolicyRule | undefined {
  return rules.find((r) => r.resource === resource && (r.resourceNames !== undefined) === named);
}

describe('rbacRules', () => {
  it('kubectl route: md-core by name, ConfigMaps by name, the Lease by name except create', () => {
    const rules = rbacRules(plan(), { route: 'kubectl' });
    expect(find(rules, 'deployments', true)).toMatchObject({
      apiGroup: 'apps',
      resourceNames: ['md-core'],
      verbs: ['get', 'list', 'watch', 'patch'],
    });
    expect(find(rules, 'deployments')).toBeUndefined();
    expect(find(rules, 'configmaps', true)?.resourceNames).toEqual(['mdcore-env', 'mdcore-config']);
    expect(find(rules, 'leases', true)).toMatchObject({
      resourceNames: ['mdcore-upgrade-md-core'],
      verbs: ['get', 'update', 'delete'],
    });
    expect(find(rules, 'leases')?.verbs).toEqual(['create']);
    expect(rules.some((r) => r.resource === 'secrets')).toBe(false);
    expect(rules.some((r) => r.resource.includes('/'))).toBe(false);
  });

  it('names follow the inputs: deployment, release, and the ConfigMaps preflight found', () => {
    const rules = rbacRules(plan({ deployment: 'core', release: 'scan' }), { route: 'kubectl' });
    expect(find(rules, 'deployments', true)?.resourceNames).toEqual(['core']);
    expect(find(rules, 'configmaps', true)?.resourceNames).toEqual(['mdcore-env', 'scan-config']);
    expect(find(rules, 'leases', true)?.resourceNames).toEqual(['mdcore-upgrade-core']);
    const found = rbacRules(plan(), { route: 'kubectl', configMaps: ['a', 'b', 'c'] });
    expect(find(found, 'configmaps', true)?.resourceNames).toEqual(['a', 'b', 'c']);
    expect(find(rbacRules(plan(), { route: 'kubectl', configMaps: [] }), 'configmaps', true)).toBeUndefined();
  });

  it('API Secrets only when the REST API is used without an api-key', () => {
    const secrets = (p: Plan): PolicyRule | undefined =>
      find(rbacRules(p, { route: 'kubectl' }), 'secrets', true);
    expect(secrets(plan({ 'api-url': 'http://md-core.mdcore.svc:8008' }))?.resourceNames).toEqual([
      'mdcore-api-key',
      'mdcore-cred',
    ]);
    expect(secrets(plan({ 'api-url': 'http://md-core.mdcore.svc:8008', 'api-key': 'k' }))).toBeUndefined();
    expect(secrets(plan({ 'api-url': 'http://md-core.mdcore.svc:8008', verify: 'off' }))).toBeUndefined();
    expect(secrets(plan())).toBeUndefined();
  });

  it('MIGRATE_HISTORY adds the scale subresource; the free-space check postgres-core and pods/exec', () => {
    const base = rbacRules(plan(), { route: 'kubectl' });
    const added = (inputs: Record<string, string>, route: RouteName = 'kubectl'): unknown[] =>
      addedRules(
        route === 'kubectl' ? base : rbacRules(plan(), { route }),
        rbacRules(plan(inputs), { route }),
      ).map((r) => [r.resource, r.resourceNames ?? [], r.verbs]);
    expect(added({ 'migrate-history': 'true' })).toEqual([
      ['deployments/scale', ['md-core'], ['patch']],
      ['deployments', ['postgres-core'], ['get']],
      ['pods/exec', [], ['create']],
    ]);
    expect(added({ 'migrate-history': 'true', 'db-free-space': 'skip' })).toEqual([
      ['deployments/scale', ['md-core'], ['patch']],
    ]);
    // The helm route reads every Deployment already.
    expect(added({ 'migrate-history': 'true' }, 'helm')).toEqual([
      ['deployments/scale', ['md-core'], ['patch']],
      ['pods/exec', [], ['create']],
    ]);
  });

  it('helm route: release Secrets and the chart kinds without names; no rule overlaps another', () => {
    for (const route of ['kubectl', 'helm'] as const) {
      const rules = rbacRules(plan({ 'migrate-history': 'true', 'api-url': 'http://md-core:8008' }), {
        route,
      });
      // A check must be granted by exactly one rule, or removing that rule would not be noticed.
      for (const r of rules) {
        const others = rules.filter((o) => o !== r);
        for (const c of accessChecks([r])) {
          const grantedElsewhere = others.some(
            (o) =>
              o.apiGroup === c.group &&
              o.resource === (c.subresource ? `${c.resource}/${c.subresource}` : c.resource) &&
              o.verbs.includes(c.verb) &&
              (o.resourceNames === undefined || (c.name !== undefined && o.resourceNames.includes(c.name))),
          );
          expect(grantedElsewhere, `${route}: ${describeAccess(c)}`).toBe(false);
        }
      }
    }
    const helm = rbacRules(plan(), { route: 'helm' });
    expect(find(helm, 'secrets')?.verbs).toEqual(['get', 'list', 'create', 'update', 'patch', 'delete']);
    expect(find(helm, 'services')?.verbs).toEqual(['get', 'patch']);
    expect(find(helm, 'deployments')?.verbs).toEqual(['get', 'list', 'watch', 'patch']);
  });

  it('routeFor: auto takes helm exactly for a Helm-managed Deployment', () => {
    expect(routeFor('auto', 'mdcore')).toBe('helm');
    expect(routeFor('auto', undefined)).toBe('kubectl');
    expect(routeFor('kubectl', 'mdcore')).toBe('kubectl');
    expect(routeFor('helm', undefined)).toBe('helm');
  });
});

describe('accessChecks', () => {
  it('one check per verb and name, subresources split off', () => {
    const checks = accessChecks([
      {
        apiGroup: 'apps',
        resource: 'deployments/scale',
        resourceNames: ['a', 'b'],
        verbs: ['get', 'patch'],
        why: '',
      },
      { apiGroup: '', resource: 'pods', verbs: ['list'], why: '' },
    ]);
    expect(checks).toEqual([
      { verb: 'get', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'a' },
      { verb: 'get', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'b' },
      { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'a' },
      { verb: 'patch', group: 'apps', resource: 'deployments', subresource: 'scale', name: 'b' },
      { verb: 'list', group: '', resource: 'pods' },
    ]);
  });

  it("preflight's checks are exactly the rules' checks for the route the Deployment takes", () => {
    const p = plan({ 'migrate-history': 'true', 'api-url': 'http://md-core:8008' });
    const cms = ['mdcore-env', 'x-config'];
    expect(requiredAccess(p, cms)).toEqual(accessChecks(rbacRules(p, { route: 'kubectl', configMaps: cms })));
    expect(requiredAccess(p, cms, 'helm')).toEqual(
      accessChecks(rbacRules(p, { route: 'helm', configMaps: cms })),
    );
    expect(helmAccess(p).length).toBeGreaterThan(0);
    const helmChecks = new Set(accessChecks(rbacRules(p, { route: 'helm' })).map(describeAccess));
    for (const c of helmAccess(p)) expect(helmChecks.has(describeAccess(c)), describeAccess(c)).toBe(true);
  });
});

describe('roleYaml', () => {
  it('parses back to the rules, with the reasons as comments', () => {
    const rules = rbacRules(plan({ 'migrate-history': 'true' }), { route: 'helm' });
    const text = roleYaml(rules, {
      namespace: 'mdcore',
      serviceAccount: { name: 'sa', namespace: 'runners' },
    });
    const [role, binding] = parseAllDocuments(text).map((d) => d.toJSON() as Record<string, unknown>);
    expect(role).toMatchObject({ kind: 'Role', metadata: { name: 'mdcore-upgrader', namespace: 'mdcore' } });
    expect(role?.rules).toEqual(
      rules.map((r) => ({
        apiGroups: [r.apiGroup],
        resources: [r.resource],
        ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
        verbs: r.verbs,
      })),
    );
    expect(binding).toMatchObject({
      kind: 'RoleBinding',
      roleRef: { kind: 'Role', name: 'mdcore-upgrader' },
      subjects: [{ kind: 'ServiceAccount', name: 'sa', namespace: 'runners' }],
    });
    for (const r of rules) expect(text).toContain(`# ${r.why}`);
    expect(text).toContain("apiGroups: ['']");
  });

  it('quotes names YAML would misread', () => {
    const text = rulesYaml([
      { apiGroup: '', resource: 'configmaps', resourceNames: ['yes', "it's"], verbs: ['get'], why: 'w' },
    ]);
    expect((parse(text) as { resourceNames: string[] }[])[0]?.resourceNames).toEqual(['yes', "it's"]);
  });
});

describe('README.md', () => {
  const readme = readmeText();
  const role = (route: RouteName, inputs: Record<string, string> = {}): PolicyRule[] =>
    rbacRules(plan(inputs), { route });

  it('has the kubectl and helm Roles exactly as --print-role prints them', () => {
    expect(rbacBlock('kubectl', readme)).toBe(roleYaml(role('kubectl'), { namespace: 'mdcore' }));
    expect(rbacBlock('helm', readme)).toBe(roleYaml(role('helm'), { namespace: 'mdcore' }));
  });

  it('lists the extra rules of each feature exactly', () => {
    const api = { 'api-url': 'http://md-core.mdcore.svc:8008' };
    const migrate = { 'migrate-history': 'true' };
    expect(rbacBlock('api-secrets', readme)).toBe(
      `${rulesYaml(addedRules(role('kubectl'), role('kubectl', api)), 0)}\n`,
    );
    expect(rbacBlock('migrate-history', readme)).toBe(
      `${rulesYaml(addedRules(role('kubectl'), role('kubectl', migrate)), 0)}\n`,
    );
    expect(rbacBlock('migrate-history-helm', readme)).toBe(
      `${rulesYaml(addedRules(role('helm'), role('helm', migrate)), 0)}\n`,
    );
    // The helm Role already grants every Secret the API credentials come from.
    expect(addedRules(role('helm'), role('helm', api))).toEqual([]);
  });
});

describe('mdcore-upgrade --print-role', () => {
  const run = async (argv: string[]): Promise<{ code: number; out: string; err: string }> => {
    let out = '';
    let err = '';
    const code = await main(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {} });
    return { code, out, err };
  };

  it('prints the Role of the same rules for the inputs given, contacting nothing', async () => {
    const r = await run(['--print-role', '--namespace', 'scan', '--method', 'kubectl', '--migrate-history']);
    expect(r.code).toBe(0);
    const [role, binding] = parseAllDocuments(r.out).map((d) => d.toJSON() as Record<string, unknown>);
    const p = plan({ namespace: 'scan', method: 'kubectl', 'migrate-history': 'true' });
    expect(role?.rules).toEqual(
      rbacRules(p, { route: 'kubectl' }).map((x) => ({
        apiGroups: [x.apiGroup],
        resources: [x.resource],
        ...(x.resourceNames ? { resourceNames: x.resourceNames } : {}),
        verbs: x.verbs,
      })),
    );
    expect(binding).toMatchObject({ subjects: [{ name: 'mdcore-upgrader', namespace: 'scan' }] });
    expect(r.out).toContain('# mdcore-upgrade-action, kubectl route');
  });

  it('binds a ServiceAccount of another namespace; method auto prints the helm Role', async () => {
    const r = await run(['--print-role', 'arc-runners/runner', '--namespace', 'mdcore']);
    expect(r.code).toBe(0);
    expect(r.out).toContain('helm route (method auto');
    const binding = parseAllDocuments(r.out)[1]?.toJSON() as { subjects: unknown[] };
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'runner', namespace: 'arc-runners' }]);
    expect(r.out).toContain('resources: [secrets]');
  });

  it('refuses a malformed ServiceAccount and invalid inputs with exit code 2', async () => {
    expect((await run(['--print-role', 'nope', '--namespace', 'mdcore'])).code).toBe(2);
    const bad = await run(['--print-role', '--namespace', 'Not_A_Namespace']);
    expect(bad.code).toBe(2);
    expect(bad.out + bad.err).toContain('namespace');
  });
});

describe("preflight's permission refusal", () => {
  const dep = (helmRelease?: string): V1Deployment => ({
    metadata: {
      name: 'md-core',
      generation: 1,
      annotations: helmRelease ? { 'meta.helm.sh/release-name': helmRelease } : {},
    },
    spec: {
      selector: { matchLabels: { app: 'md-core' } },
      template: {
        spec: {
          containers: [
            {
              name: 'md-core',
              image: 'opswat/metadefendercore-debian:5.19.0',
              envFrom: [{ configMapRef: { name: 'mdcore-env' } }, { configMapRef: { name: 'scan-config' } }],
            },
          ],
        },
      },
    },
  });
  /** A cluster that denies what `denied` matches and records every check it was asked. */
  const fake = (d: V1Deployment | Error, denied: (c: AccessCheck) => boolean) => {
    const asked: AccessCheck[] = [];
    const kube = {
      namespaceExists: async () => true,
      getDeployment: async () => {
        if (d instanceof Error) throw d;
        return d;
      },
      missingPermissions: async (_ns: string, checks: AccessCheck[]) => {
        asked.push(...checks);
        return checks.filter(denied);
      },
      servesApi: async () => false,
    } as unknown as Kube;
    return { kube, asked };
  };
  const step = { detail: () => undefined, warn: () => undefined };
  const refusal = async (kube: Kube, p: Plan): Promise<string> => {
    const err = await preflight(kube, p, step).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PreflightError);
    return (err as Error).message;
  };

  it('asks the helm Role for a Helm-managed Deployment under auto, for the ConfigMaps md-core reads', async () => {
    const { kube, asked } = fake(dep('scan'), (c) => c.resource === 'secrets' && c.verb === 'create');
    const msg = await refusal(kube, plan());
    expect(asked).toEqual(
      accessChecks(rbacRules(plan(), { route: 'helm', configMaps: ['mdcore-env', 'scan-config'] })),
    );
    expect(msg).toContain('lacks 1 permission(s) in namespace "mdcore"');
    expect(msg).toContain('  - create secrets');
    expect(msg).toContain("the helm route's Role is in README.md");
    expect(msg).toContain('Nothing in the cluster was changed.');
  });

  it('asks the kubectl Role, ConfigMaps by name, under method kubectl', async () => {
    const { kube, asked } = fake(dep('scan'), (c) => c.resource === 'configmaps' && c.name === 'scan-config');
    const msg = await refusal(kube, plan({ method: 'kubectl' }));
    expect(asked).toEqual(
      accessChecks(rbacRules(plan(), { route: 'kubectl', configMaps: ['mdcore-env', 'scan-config'] })),
    );
    expect(msg).toContain('  - get configmaps (scan-config)\n  - patch configmaps (scan-config)\n');
  });

  it('a Deployment it may not read: names the missing get for each route auto could take', async () => {
    const forbidden = new KubeError('reading Deployment mdcore/md-core: HTTP 403: forbidden', 403);
    const { kube } = fake(forbidden, (c) => c.resource === 'deployments');
    const msg = await refusal(kube, plan());
    expect(msg).toContain('lacks 2 permission(s)');
    expect(msg).toContain('  - get deployments.apps (md-core)\n  - get deployments.apps\n');
    expect(msg).toContain('kubectl or helm route');
    // When RBAC says it may read, the 403 came from elsewhere (e.g. an admission webhook): reported as it is.
    const other = fake(forbidden, () => false);
    await expect(preflight(other.kube, plan(), step)).rejects.toBe(forbidden);
  });
});
