// README.md's Roles on the real cluster: a ServiceAccount holding exactly the Role taken from README.md (so the
// doc cannot drift) upgrades md-core with its own token, and a rollback works too. With any one verb of any one
// rule taken away, preflight refuses, names exactly the permissions that verb grants, and nothing changes.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { AccessCheck } from '../../src/cluster/kube.ts';
import { accessChecks, type PolicyRule } from '../../src/plan/rbac.ts';
import { describeAccess } from '../../src/steps/preflight.ts';
import { startStandin, type Standin } from '../support/mdcore-standin.ts';
import { rbacBlock } from '../support/readme-blocks.ts';
import { chartArgs, helm, kubectl, kubectlJson, waitFor } from './cluster/context.ts';
import { tagFor } from './cluster/stages.ts';
import { deploymentView, IMAGE, installFixture, runAction } from './support/action.ts';
import { useNamespaces } from './support/namespaces.ts';
import { readmeRole, SA, tokenKubeconfig, type RoleDoc, type RoleRule } from './support/service-account.ts';

const namespace = useNamespaces();
/** Whether the ServiceAccount may do `c`, asked as the admin impersonating it. */
async function allowed(ns: string, c: AccessCheck): Promise<boolean> {
  const resource = `${c.resource}${c.group ? `.${c.group}` : ''}${c.name ? `/${c.name}` : ''}`;
  const r = await kubectl(
    [
      'auth',
      'can-i',
      c.verb,
      resource,
      ...(c.subresource ? [`--subresource=${c.subresource}`] : []),
      '-n',
      ns,
      `--as=system:serviceaccount:${ns}:${SA}`,
    ],
    { allowFailure: true },
  );
  return r.stdout.trim() === 'yes';
}

/** Applies the Role with `rules` and waits until the authorizer grants exactly them (bounded). */
async function applyRole(ns: string, role: RoleDoc, rules: RoleRule[], denied: AccessCheck[]): Promise<void> {
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ ...role, rules }) });
  const granted = accessChecks(rules.map(toPolicyRule)).slice(0, 1);
  await waitFor(
    'the Role change to reach the authorizer',
    async () => {
      for (const c of denied) if (await allowed(ns, c)) return undefined;
      for (const c of granted) if (!(await allowed(ns, c))) return undefined;
      return true;
    },
    { timeoutMs: 15_000, intervalMs: 200 },
  );
}

function toPolicyRule(r: RoleRule): PolicyRule {
  return {
    apiGroup: r.apiGroups[0] ?? '',
    resource: r.resources[0] ?? '',
    verbs: r.verbs,
    why: '',
    ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
  };
}

/** What a refused run must leave exactly as it was, read in one request. */
async function clusterState(ns: string): Promise<unknown> {
  type Obj = {
    kind: string;
    metadata: { name: string; generation?: number; annotations?: Record<string, string> };
    spec?: unknown;
    data?: unknown;
  };
  const list = await kubectlJson<{ items: Obj[] }>([
    'get',
    'deployments,replicasets,configmaps,secrets,leases',
    '-n',
    ns,
  ]);
  return list.items
    .map((o) =>
      o.kind === 'Deployment'
        ? [o.kind, o.metadata.name, o.metadata.generation, o.metadata.annotations, o.spec]
        : o.kind === 'ConfigMap'
          ? [o.kind, o.metadata.name, o.data]
          : [o.kind, o.metadata.name],
    )
    .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
}

interface Removal {
  label: string;
  rules: RoleRule[];
  /** The checks the removed verb granted: preflight must name each of them. */
  missing: AccessCheck[];
}

/** Every rule with one of its verbs taken away (the rule dropped when that was its only verb). */
function removals(rules: RoleRule[]): Removal[] {
  return rules.flatMap((rule, i) =>
    rule.verbs.map((verb) => {
      const reduced = { ...rule, verbs: rule.verbs.filter((v) => v !== verb) };
      const rest = rules.filter((_, j) => j !== i);
      return {
        label: `${verb} ${rule.resources.join(',')}${rule.resourceNames ? ` (${rule.resourceNames.join(', ')})` : ''}`,
        rules: reduced.verbs.length > 0 ? [...rest.slice(0, i), reduced, ...rest.slice(i)] : rest,
        missing: accessChecks([toPolicyRule({ ...rule, verbs: [verb] })]),
      };
    }),
  );
}

interface Scenario {
  id: string;
  extra?: string[];
  inputs: Record<string, string>;
  helmMajor?: 3 | 4;
  /** Verify through the stand-in REST API, with no api-key: the key comes from Secret mdcore-api-key. */
  api?: boolean;
  /** Only the full Role's upgrade and rollback (the refusals are the same code whatever the tool's version). */
  fullRoleOnly?: boolean;
}

const standins: Standin[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  while (standins.length) await standins.pop()?.close();
  while (cleanups.length) cleanups.pop()?.();
});

/** The stand-in MD Core answering with the API key the chart put into Secret mdcore-api-key. */
async function apiFor(ns: string): Promise<Standin> {
  const b64 = (await kubectl(['get', 'secret', 'mdcore-api-key', '-n', ns, '-o', 'jsonpath={.data.value}']))
    .stdout;
  const standin = await startStandin({
    apiKey: Buffer.from(b64, 'base64').toString('utf8'),
    version: '5.20.0',
  });
  standins.push(standin);
  return standin;
}

/** Every single-verb removal is refused by preflight with nothing changed; then the full Role upgrades. */
async function proveRole(s: Scenario): Promise<{ ns: string; refusals: number; ms: number[] }> {
  const t0 = Date.now();
  const ns = await namespace(`rbac-${[s.id, ...(s.extra ?? [])].join('-')}`);
  await installFixture(ns, { ...(s.helmMajor ? { helmMajor: s.helmMajor } : {}) });
  await kubectl(['create', 'serviceaccount', SA, '-n', ns]);
  const { role, binding } = readmeRole(s.id, ns, s.extra);
  const fullRules = role.rules ?? [];
  await kubectl(['apply', '-f', '-'], { input: JSON.stringify(binding) });
  const kubeconfig = await tokenKubeconfig(ns);
  const standin = s.api ? await apiFor(ns) : undefined;
  const inputs = {
    namespace: ns,
    tag: '5.20.0',
    kubeconfig,
    ...(standin ? { 'api-url': standin.url } : {}),
    ...s.inputs,
  };
  const before = await clusterState(ns);
  const ms: number[] = [];

  const cases = s.fullRoleOnly ? [] : removals(fullRules);
  for (const r of cases) {
    await applyRole(ns, role, r.rules, r.missing);
    const t = Date.now();
    const run = await runAction(inputs, s.helmMajor ? { helmMajor: s.helmMajor } : {});
    ms.push(Date.now() - t);
    expect(run.outcome.result, `${r.label} removed: ${run.reporter.text()}`).toBe('failed');
    const msg = run.outcome.error ?? '';
    expect(msg, r.label).toMatch(/lacks \d+ permission\(s\) in namespace/);
    expect(msg, r.label).toContain('Nothing in the cluster was changed.');
    const listed = msg.split('\n').filter((l) => l.startsWith('  - '));
    for (const c of r.missing) expect(listed, r.label).toContain(`  - ${describeAccess(c)}`);
    expect(await clusterState(ns), `${r.label} removed: the cluster changed`).toEqual(before);
  }

  await applyRole(ns, role, fullRules, []);
  const ok = await runAction(inputs, s.helmMajor ? { helmMajor: s.helmMajor } : {});
  expect(ok.outcome.error, ok.reporter.text()).toBeUndefined();
  expect(ok.outcome.result).toBe('upgraded');
  expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.0`);
  if (standin) {
    // The ServiceAccount read the API key from the Secret: the stand-in saw it on authenticated requests.
    const keyed = standin.requests.filter((q) => q.headers.apikey === standin.state.apiKey);
    expect(keyed.length).toBeGreaterThan(0);
  }
  // The Lease was taken and released with the Role's verbs.
  expect((await kubectl(['get', 'leases', '-n', ns, '-o', 'name'])).stdout.trim()).toBe('');

  // A failing upgrade is rolled back with the same Role: rollout undo (or helm rollback) and the ConfigMaps.
  const failing = await runAction(
    { ...inputs, tag: tagFor('5.20.1', 'crashloop'), timeout: '90' },
    s.helmMajor ? { helmMajor: s.helmMajor } : {},
  );
  expect(failing.outcome.result, failing.reporter.text()).toBe('rolled-back');
  expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.20.0`);
  process.stdout.write(
    `rbac ${s.id}: ${cases.length} removals refused${ms.length ? ` (run ${Math.min(...ms)}-${Math.max(...ms)} ms)` : ''}, total ${Date.now() - t0} ms\n`,
  );
  return { ns, refusals: cases.length, ms };
}

describe("README.md's Roles on the real cluster", () => {
  it('kubectl route: exactly the README Role upgrades and rolls back; each verb removed is refused', async () => {
    const r = await proveRole({ id: 'kubectl', inputs: { method: 'kubectl' } });
    expect(r.refusals).toBeGreaterThanOrEqual(10);
  });

  it('kubectl route with migrate-history and api-url (no api-key): the README Role plus both extra rule lists', async () => {
    const r = await proveRole({
      id: 'kubectl',
      extra: ['migrate-history', 'api-secrets'],
      inputs: { method: 'kubectl', 'migrate-history': 'true', 'db-free-space': '1Gi' },
      api: true,
    });
    expect(r.refusals).toBeGreaterThanOrEqual(15);
  });

  it('helm route (method auto on a Helm release): the README helm Role', async () => {
    const r = await proveRole({ id: 'helm', inputs: {} });
    expect(r.refusals).toBeGreaterThanOrEqual(20);
  });

  it('helm route with Helm 4 (server-side apply): the same README helm Role upgrades and rolls back', async () => {
    const r = await proveRole({
      id: 'helm',
      inputs: { 'helm-version': '4' },
      helmMajor: 4,
      fullRoleOnly: true,
    });
    expect(r.refusals).toBe(0);
  });

  it('what kubectl itself needs: each command with its rules works, and fails without any one of them', async () => {
    const ns = await namespace('rbac-kubectl-needs');
    await installFixture(ns);
    await kubectl(['create', 'serviceaccount', SA, '-n', ns]);
    await kubectl(['create', 'rolebinding', SA, '-n', ns, `--role=${SA}`, `--serviceaccount=${ns}:${SA}`]);
    const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-rbac-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'kubeconfig');
    writeFileSync(file, await tokenKubeconfig(ns), { mode: 0o600 });
    const role: RoleDoc = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: SA, namespace: ns },
    } as RoleDoc;
    const rule = (group: string, resource: string, verbs: string[], names?: string[]): RoleRule => ({
      apiGroups: [group],
      resources: [resource],
      verbs,
      ...(names ? { resourceNames: names } : {}),
    });
    const asSa = (args: string[]) =>
      kubectl(['--kubeconfig', file, '-n', ns, ...args], { allowFailure: true, timeoutMs: 30_000 });
    const mdcore = ['md-core'];
    // [what, rules, command, what a pass looks like]: exec reaches no container on this cluster, so passing
    // authorization (the API server dialling the node) is its success.
    const needs: [string, RoleRule[], (n: number) => string[], RegExp][] = [
      [
        'set image',
        [rule('apps', 'deployments', ['get', 'patch'], mdcore)],
        (n) => ['set', 'image', 'deployment/md-core', `md-core=${IMAGE}:5.19.${n}`],
        /image updated/,
      ],
      [
        'rollout undo',
        [rule('apps', 'deployments', ['get', 'patch'], mdcore), rule('apps', 'replicasets', ['list'])],
        () => ['rollout', 'undo', 'deployment/md-core'],
        /rolled back/,
      ],
      [
        'annotate',
        [rule('apps', 'deployments', ['get', 'patch'], mdcore)],
        (n) => ['annotate', 'deployment/md-core', `rbac-probe=${n}`, '--overwrite'],
        /annotated/,
      ],
      [
        'scale',
        [rule('apps', 'deployments', ['get'], mdcore), rule('apps', 'deployments/scale', ['patch'], mdcore)],
        () => ['scale', 'deployment/md-core', '--replicas=1'],
        /scaled/,
      ],
      [
        'list and watch by name',
        [rule('apps', 'deployments', ['list', 'watch'], mdcore)],
        () => [
          'get',
          'deployments',
          '--field-selector=metadata.name=md-core',
          '-o',
          'name',
          '--watch',
          '--request-timeout=2s',
        ],
        /deployment\.apps\/md-core/,
      ],
      [
        'exec in postgres-core',
        [
          rule('apps', 'deployments', ['get'], ['postgres-core']),
          rule('', 'pods', ['list']),
          rule('', 'pods/exec', ['create']),
        ],
        () => ['exec', 'deployment/postgres-core', '--', 'true'],
        /error dialing backend|unable to upgrade connection: (?!.*forbidden)/,
      ],
    ];
    let attempt = 0;
    for (const [what, rules, args, passed] of needs) {
      await applyRole(ns, role, rules, []);
      const ok = await asSa(args(++attempt));
      expect(`${ok.stdout}${ok.stderr}`, `${what} with its rules`).toMatch(passed);
      expect(ok.stderr, what).not.toMatch(/forbidden/i);
      for (const [i, r] of rules.entries()) {
        for (const verb of r.verbs) {
          const less = rules.flatMap((x, j) =>
            j !== i ? [x] : x.verbs.length > 1 ? [{ ...x, verbs: x.verbs.filter((v) => v !== verb) }] : [],
          );
          const gone = accessChecks([toPolicyRule({ ...r, verbs: [verb] })]);
          await applyRole(ns, role, less, gone);
          const refused = await asSa(args(++attempt));
          const [resource, sub] = (r.resources[0] ?? '').split('/');
          expect(refused.stderr, `${what} without ${verb} ${r.resources[0]}`).toContain(
            `cannot ${verb} resource "${sub ? `${resource}/${sub}` : resource}"`,
          );
        }
      }
    }
    // Without the field selector the same rule does not allow the list: RBAC matched the name.
    await applyRole(ns, role, [rule('apps', 'deployments', ['list'], mdcore)], []);
    expect((await asSa(['get', 'deployments'])).stderr).toContain('cannot list resource "deployments"');
  });

  it('what helm upgrade itself needs: the helm rules work, and helm fails without any one verb it uses', async () => {
    const ns = await namespace('rbac-helm-needs');
    await installFixture(ns);
    await kubectl(['create', 'serviceaccount', SA, '-n', ns]);
    await kubectl(['create', 'rolebinding', SA, '-n', ns, `--role=${SA}`, `--serviceaccount=${ns}:${SA}`]);
    const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-rbac-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'kubeconfig');
    writeFileSync(file, await tokenKubeconfig(ns), { mode: 0o600 });
    const role = {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: SA, namespace: ns },
    };
    // The verbs of README's helm Role that an image-and-values upgrade of an unchanged chart uses (`patch` on
    // Services is needed only by a chart that changes them). `delete` on Secrets is proven apart below: helm
    // deletes the release records beyond --history-max, which the loop turns off.
    const rules: RoleRule[] = [
      { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'create', 'update', 'patch'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'patch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'patch'] },
      { apiGroups: [''], resources: ['services'], verbs: ['get'] },
    ];
    const helmRole = parseAllDocuments(rbacBlock('helm'))
      .map((d) => d.toJSON() as RoleDoc)
      .find((d) => d.kind === 'Role');
    for (const r of rules) {
      const granted = helmRole?.rules?.find((x) => x.resources[0] === r.resources[0] && !x.resourceNames);
      for (const v of r.verbs)
        expect(granted?.verbs, `README's helm Role: ${v} ${r.resources[0]}`).toContain(v);
    }
    expect(helmRole?.rules?.find((x) => x.resources[0] === 'secrets')?.verbs).toContain('delete');
    let n = 0;
    const upgrade = (historyMax = 0) => {
      n += 1;
      return helm(
        3,
        [
          'upgrade',
          'mdcore',
          ...chartArgs('5.19.0'),
          '-n',
          ns,
          '--kubeconfig',
          file,
          '--reuse-values',
          '--set',
          `core_components.md-core.image=${IMAGE}:5.19.${n}`,
          '--set-string',
          `env.RETRY_UPGRADE=${n}`,
          `--history-max=${historyMax}`,
        ],
        { allowFailure: true, timeoutMs: 60_000 },
      );
    };
    await applyRole(ns, role as RoleDoc, rules, []);
    const ok = await upgrade();
    expect(ok.code, ok.stderr).toBe(0);
    for (const [i, r] of rules.entries()) {
      for (const verb of r.verbs) {
        const less = rules.flatMap((x, j) =>
          j !== i ? [x] : x.verbs.length > 1 ? [{ ...x, verbs: x.verbs.filter((v) => v !== verb) }] : [],
        );
        await applyRole(ns, role as RoleDoc, less, accessChecks([toPolicyRule({ ...r, verbs: [verb] })]));
        const refused = await upgrade();
        expect(refused.code, `helm upgrade without ${verb} ${r.resources[0]}`).not.toBe(0);
        expect(refused.stderr, `helm upgrade without ${verb} ${r.resources[0]}`).toContain(
          `cannot ${verb} resource "${r.resources[0]}"`,
        );
        // A failed upgrade leaves a failed release revision: the next attempt starts from a deployed one.
        await applyRole(ns, role as RoleDoc, rules, []);
        await helm(3, ['rollback', 'mdcore', '-n', ns], { allowFailure: true, timeoutMs: 60_000 });
      }
    }
    // Past --history-max helm deletes the oldest release records: without `delete` the upgrade fails.
    const pruned = await upgrade(2);
    expect(pruned.code).not.toBe(0);
    expect(pruned.stderr).toContain('cannot delete resource "secrets"');
    const withDelete = rules.map((r) =>
      r.resources[0] === 'secrets' ? { ...r, verbs: [...r.verbs, 'delete'] } : r,
    );
    await applyRole(ns, role as RoleDoc, withDelete, []);
    await helm(3, ['rollback', 'mdcore', '-n', ns], { allowFailure: true, timeoutMs: 60_000 });
    const prunedOk = await upgrade(2);
    expect(prunedOk.code, prunedOk.stderr).toBe(0);
  });
});
