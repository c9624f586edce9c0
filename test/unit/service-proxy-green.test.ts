// How blue-green reaches green: the one decision (plan/green-url.ts) and what follows from it: the input, the
// route the plan step reports (or refuses), and the services/proxy rule in the Role, preflight and README.
import { describe, expect, it } from 'vitest';
import { KubeConfig, type V1Service } from '@kubernetes/client-node';
import { parseInputs } from '../../src/plan/inputs.ts';
import { greenAccess } from '../../src/plan/green-url.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { addedRules, rbacRules, rulesYaml } from '../../src/plan/rbac.ts';
import { previewService } from '../../src/steps/blue-green.ts';
import { greenRoute } from '../../src/steps/green-api.ts';
import { describeAccess, requiredAccess } from '../../src/steps/preflight.ts';
import { rbacBlock, readmeText } from '../support/readme-blocks.ts';

const parse = (inputs: Record<string, string>): ReturnType<typeof parseInputs> =>
  parseInputs({ namespace: 'mdcore', tag: '5.21.0', strategy: 'blue-green', ...inputs });
/** A blue-green plan of these inputs (bad inputs fail the test with their messages). */
const plan = (inputs: Record<string, string> = {}): Plan => {
  const p = parse(inputs);
  return p.ok ? p.plan : expect.unreachable(p.errors.map((e) => e.message).join('; '));
};
const API = { 'api-url': 'https://md-core.mdcore.svc:8008', 'api-key': 'k-123456789' };

describe('greenAccess: one decision for the steps, the Role and the plan', () => {
  it('api-url without green-api-url: the service proxy; green-api-url proxy: the proxy too', () => {
    expect(greenAccess(plan(API))).toEqual({ kind: 'proxy' });
    expect(greenAccess(plan({ ...API, 'green-api-url': 'proxy' }))).toEqual({ kind: 'proxy' });
    expect(greenAccess(plan({ 'green-api-url': 'proxy' }))).toEqual({ kind: 'proxy' });
  });

  it('a URL template wins; no api-url or verify off: green is not verified over the REST API', () => {
    const t = 'http://{preview}.{namespace}.svc:8008';
    expect(greenAccess(plan({ ...API, 'green-api-url': t }))).toEqual({ kind: 'url', template: t });
    expect(greenAccess(plan())).toEqual({ kind: 'none' });
    expect(greenAccess(plan({ ...API, verify: 'off' }))).toEqual({ kind: 'none' });
    expect(greenAccess(plan({ ...API, verify: 'off', 'green-api-url': 'proxy' }))).toEqual({ kind: 'none' });
  });

  it("the input takes 'proxy' as it is; other words are checked as URLs", () => {
    expect(plan({ 'green-api-url': 'proxy' }).greenApiUrl).toBe('proxy');
    const bad = parse({ 'green-api-url': 'proxi' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors.map((e) => e.message).join('\n')).toMatch(/'green-api-url'/);
  });
});

describe('greenRoute (what the plan step reports and the verification uses)', () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://203.0.113.10:6443', skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const preview = (ports: NonNullable<V1Service['spec']>['ports']): V1Service => ({
    metadata: { name: 'md-core-green-preview' },
    spec: { ports },
  });

  it("the proxy URL of the preview Service's port, with the kubeconfig's transport", () => {
    const r = greenRoute(plan(API), { kc }, 'mdcore', preview([{ name: 'http', port: 8008 }]));
    expect(r && !('problem' in r) && r).toMatchObject({
      url: 'https://203.0.113.10:6443/api/v1/namespaces/mdcore/services/md-core-green-preview:http/proxy',
      via: "the API server's service proxy (Service md-core-green-preview, port http, http)",
    });
    expect(r && !('problem' in r) && typeof r.transport).toBe('function');
    expect(r && !('problem' in r) && r.unreachable).toMatch(/services\/proxy in namespace mdcore/);
  });

  it("the preview keeps the serving Service's appProtocol, so an https port is proxied as https", () => {
    const serving: V1Service = {
      metadata: { name: 'md-core', namespace: 'mdcore' },
      spec: { selector: { app: 'md-core' }, ports: [{ name: 'rest', port: 8008, appProtocol: 'https' }] },
    };
    const p = previewService(serving, 'md-core-green-preview', { app: 'md-core-green' });
    const r = greenRoute(plan(API), { kc }, 'mdcore', p);
    expect(r && !('problem' in r) && r.url).toBe(
      'https://203.0.113.10:6443/api/v1/namespaces/mdcore/services/https:md-core-green-preview:rest/proxy',
    );
  });

  it('a template: filled in, fetch as transport; none: undefined', () => {
    const r = greenRoute(
      plan({ ...API, 'green-api-url': 'https://{preview}.{namespace}.svc:8008' }),
      { kc },
      'mdcore',
      preview([{ port: 8008 }]),
    );
    expect(r).toMatchObject({ url: 'https://md-core-green-preview.mdcore.svc:8008' });
    expect(r && !('problem' in r) && r.transport).toBeUndefined();
    expect(greenRoute(plan(), { kc }, 'mdcore', preview([{ port: 8008 }]))).toBeUndefined();
  });

  it('a preview Service whose port cannot be told: a refusal naming green-api-url as the way out', () => {
    const r = greenRoute(
      plan(API),
      { kc },
      'mdcore',
      preview([
        { name: 'a', port: 1 },
        { name: 'b', port: 2 },
      ]),
    );
    expect(r && 'problem' in r && r.problem).toMatch(
      /service proxy: Service md-core-green-preview has 2 ports .*give 'green-api-url'.*Nothing was changed/,
    );
  });
});

describe('services/proxy in the Role', () => {
  const proxyRules = (inputs: Record<string, string>) =>
    rbacRules(plan(inputs), { route: 'kubectl' }).filter((r) => r.resource === 'services/proxy');

  it('only when green goes through the proxy; create only for POSTs (login, smoke scan)', () => {
    expect(proxyRules(API).map((r) => r.verbs)).toEqual([['get']]);
    expect(proxyRules({ 'api-url': API['api-url'] }).map((r) => r.verbs)).toEqual([['get', 'create']]);
    expect(proxyRules({ ...API, 'verify-scan': 'true' }).map((r) => r.verbs)).toEqual([['get', 'create']]);
    expect(proxyRules({ ...API, 'green-api-url': 'https://{preview}.{namespace}.svc:8008' })).toEqual([]);
    expect(proxyRules({})).toEqual([]);
    expect(proxyRules({ ...API, strategy: 'rolling-update' })).toEqual([]);
  });

  it("green-api-url alone (no api-url): green's credentials come from the namespace's Secrets, asked for too", () => {
    const secrets = (inputs: Record<string, string>) =>
      rbacRules(plan(inputs), { route: 'kubectl' }).filter((r) => r.resource === 'secrets');
    expect(secrets({ 'green-api-url': 'proxy' }).map((r) => r.resourceNames)).toEqual([
      ['mdcore-api-key', 'mdcore-cred'],
    ]);
    expect(secrets({ 'green-api-url': 'proxy', 'api-key': 'k-123456789' })).toEqual([]);
    expect(secrets({ 'green-api-url': 'proxy', verify: 'off' })).toEqual([]);
  });

  it('preflight asks for it before any change', () => {
    const checks = requiredAccess(plan(API), []).map(describeAccess);
    expect(checks.filter((c) => c.includes('services/proxy'))).toHaveLength(1);
  });

  it('README lists what reaching green through the proxy adds to the blue-green Role exactly', () => {
    const withApi = { 'api-url': API['api-url'] };
    const base = rbacRules(plan({ ...withApi, 'green-api-url': 'https://{preview}.{namespace}.svc:8008' }), {
      route: 'kubectl',
    });
    const added = addedRules(base, rbacRules(plan(withApi), { route: 'kubectl' }));
    expect(added.map((r) => r.resource)).toEqual(['services/proxy']);
    expect(rbacBlock('blue-green-proxy', readmeText())).toBe(`${rulesYaml(added, 0)}\n`);
  });
});
