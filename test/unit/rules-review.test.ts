// Preflight's permission matcher: a SelfSubjectRulesReview's rules against the checks from plan/rbac.ts, decided
// as the RBAC authorizer decides (verbs, API groups, resources and subresources, resourceNames, wildcards).
import { describe, expect, it } from 'vitest';
import type { AccessCheck } from '../../src/cluster/kube.ts';
import { ruleAllows, uncoveredChecks, type ResourceRule } from '../../src/cluster/rules-review.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import { accessChecks, rbacRules, type PolicyRule, type RouteName } from '../../src/plan/rbac.ts';

const getDeploy: AccessCheck = { verb: 'get', group: 'apps', resource: 'deployments', name: 'md-core' };
const listRs: AccessCheck = { verb: 'list', group: 'apps', resource: 'replicasets' };
const execPod: AccessCheck = { verb: 'create', group: '', resource: 'pods', subresource: 'exec' };
const scale: AccessCheck = {
  verb: 'patch',
  group: 'apps',
  resource: 'deployments',
  subresource: 'scale',
  name: 'md-core',
};
const createLease: AccessCheck = { verb: 'create', group: 'coordination.k8s.io', resource: 'leases' };

describe('ruleAllows', () => {
  it('needs the verb, the group and the resource to match', () => {
    const rule: ResourceRule = { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'] };
    expect(ruleAllows(rule, getDeploy)).toBe(true);
    expect(ruleAllows(rule, { ...getDeploy, verb: 'patch' })).toBe(false);
    expect(ruleAllows(rule, { ...getDeploy, group: '' })).toBe(false);
    expect(ruleAllows(rule, { ...getDeploy, resource: 'statefulsets' })).toBe(false);
  });

  it('treats the core group as the empty string, not as a wildcard', () => {
    const core: ResourceRule = { verbs: ['list'], apiGroups: [''], resources: ['pods'] };
    expect(ruleAllows(core, { verb: 'list', group: '', resource: 'pods' })).toBe(true);
    expect(ruleAllows(core, { verb: 'list', group: 'metrics.k8s.io', resource: 'pods' })).toBe(false);
  });

  it("honours '*' for verbs, groups and resources", () => {
    const admin: ResourceRule = { verbs: ['*'], apiGroups: ['*'], resources: ['*'] };
    for (const c of [getDeploy, listRs, execPod, scale, createLease]) expect(ruleAllows(admin, c)).toBe(true);
    expect(ruleAllows({ verbs: ['*'], apiGroups: ['apps'], resources: ['deployments'] }, getDeploy)).toBe(
      true,
    );
    expect(ruleAllows({ verbs: ['get'], apiGroups: ['*'], resources: ['deployments'] }, getDeploy)).toBe(
      true,
    );
    expect(ruleAllows({ verbs: ['get'], apiGroups: ['apps'], resources: ['*'] }, getDeploy)).toBe(true);
  });

  it('does not give a subresource with its resource, only by name or with */sub', () => {
    const pods: ResourceRule = { verbs: ['create'], apiGroups: [''], resources: ['pods'] };
    expect(ruleAllows(pods, execPod)).toBe(false);
    expect(ruleAllows({ ...pods, resources: ['pods/exec'] }, execPod)).toBe(true);
    expect(ruleAllows({ ...pods, resources: ['pods/log'] }, execPod)).toBe(false);
    expect(ruleAllows({ ...pods, resources: ['*/exec'] }, execPod)).toBe(true);
    // ... and a subresource rule does not give the resource itself.
    expect(
      ruleAllows({ ...pods, resources: ['pods/exec'] }, { verb: 'create', group: '', resource: 'pods' }),
    ).toBe(false);
    expect(
      ruleAllows({ ...pods, resources: ['*/exec'] }, { verb: 'create', group: '', resource: 'pods' }),
    ).toBe(false);
  });

  it('limits a rule with resourceNames to those names, and never allows an unnamed request with it', () => {
    const named: ResourceRule = {
      verbs: ['get', 'list', 'create'],
      apiGroups: ['apps'],
      resources: ['deployments', 'replicasets', 'deployments/scale'],
      resourceNames: ['md-core'],
    };
    expect(ruleAllows(named, getDeploy)).toBe(true);
    expect(ruleAllows(named, { ...getDeploy, name: 'postgres-core' })).toBe(false);
    expect(ruleAllows(named, listRs)).toBe(false);
    expect(ruleAllows(named, { ...getDeploy, verb: 'create', name: undefined })).toBe(false);
    expect(ruleAllows(named, { ...scale, verb: 'get' })).toBe(true);
    // No resourceNames (absent or empty): every name, and unnamed requests.
    expect(ruleAllows({ ...named, resourceNames: [] }, { ...getDeploy, name: 'other' })).toBe(true);
    expect(ruleAllows({ ...named, resourceNames: undefined }, listRs)).toBe(true);
  });

  it('allows nothing with a rule that lists no groups or no resources', () => {
    expect(ruleAllows({ verbs: ['*'], resources: ['*'] }, getDeploy)).toBe(false);
    expect(ruleAllows({ verbs: ['*'], apiGroups: ['*'] }, getDeploy)).toBe(false);
    expect(ruleAllows({ verbs: [], apiGroups: ['*'], resources: ['*'] }, getDeploy)).toBe(false);
  });
});

describe('uncoveredChecks', () => {
  it('returns the checks no rule allows, in order, each once', () => {
    const rules: ResourceRule[] = [
      { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['md-core'] },
      { verbs: ['list', 'watch'], apiGroups: ['apps'], resources: ['replicasets'] },
    ];
    const checks = [getDeploy, execPod, listRs, createLease, { ...listRs, verb: 'delete' }];
    expect(uncoveredChecks(rules, checks)).toEqual([execPod, createLease, { ...listRs, verb: 'delete' }]);
    expect(uncoveredChecks([], checks)).toEqual(checks);
    expect(uncoveredChecks(rules, [])).toEqual([]);
  });

  it('combines rules: a verb from one and a name from another are not merged', () => {
    const rules: ResourceRule[] = [
      { verbs: ['get'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['other'] },
      { verbs: ['patch'], apiGroups: ['apps'], resources: ['deployments'], resourceNames: ['md-core'] },
    ];
    expect(uncoveredChecks(rules, [getDeploy])).toEqual([getDeploy]);
  });

  // The Role the project prints (README, --print-role) must pass its own preflight, and dropping any one verb
  // or name from it must be noticed: the same property the e2e RBAC tests prove against a real API server.
  const asReviewRule = (r: PolicyRule): ResourceRule => ({
    verbs: r.verbs,
    apiGroups: [r.apiGroup],
    resources: [r.resource],
    resourceNames: r.resourceNames,
  });
  const plans: Record<string, Record<string, string>> = {
    default: {},
    migrate: { 'migrate-history': 'true' },
    api: { 'api-url': 'https://mdcore.example:8008' },
  };
  for (const route of ['kubectl', 'helm'] as RouteName[]) {
    for (const [label, inputs] of Object.entries(plans)) {
      it(`the ${route} Role (${label}) allows every check it implies, and each missing verb is found`, () => {
        const parsed = parseInputs({ namespace: 'mdcore', tag: '5.20.0', ...inputs });
        if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors));
        const rules = rbacRules(parsed.plan, { route });
        const checks = accessChecks(rules);
        expect(checks.length).toBeGreaterThan(5);
        expect(uncoveredChecks(rules.map(asReviewRule), checks)).toEqual([]);
        for (let i = 0; i < rules.length; i++) {
          const rule = rules[i]!;
          for (const verb of rule.verbs) {
            const fewer = rules.map((r, j) =>
              j === i ? asReviewRule({ ...r, verbs: r.verbs.filter((v) => v !== verb) }) : asReviewRule(r),
            );
            const missing = uncoveredChecks(fewer, checks);
            expect(missing.length).toBeGreaterThan(0);
            expect(missing.every((m) => m.verb === verb)).toBe(true);
          }
        }
      });
    }
  }
});
