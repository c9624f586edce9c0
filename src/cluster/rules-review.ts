// Which permission checks a SelfSubjectRulesReview's rules allow: RBAC's matching (verbs, API groups,
// resources with subresources, resourceNames, '*' wildcards) as a pure function, so preflight needs one request
// per namespace instead of one SelfSubjectAccessReview per check.
import type { AccessCheck } from './kube.ts';

/** One entry of a SelfSubjectRulesReview's status.resourceRules. */
export interface ResourceRule {
  readonly verbs: readonly string[];
  readonly apiGroups?: readonly string[] | undefined;
  readonly resources?: readonly string[] | undefined;
  readonly resourceNames?: readonly string[] | undefined;
}

const ALL = '*';

function resourceMatches(rule: ResourceRule, c: AccessCheck): boolean {
  const wanted = c.subresource ? `${c.resource}/${c.subresource}` : c.resource;
  return (rule.resources ?? []).some(
    (r) =>
      r === ALL ||
      r === wanted ||
      // RBAC's "*/scale": that subresource of every resource.
      (c.subresource !== undefined && r === `${ALL}/${c.subresource}`),
  );
}

function nameMatches(rule: ResourceRule, c: AccessCheck): boolean {
  const names = rule.resourceNames ?? [];
  // A rule with names allows only requests naming one of them: never a create, or a list without a name.
  if (names.length === 0) return true;
  return c.name !== undefined && c.name !== '' && names.includes(c.name);
}

/** Whether one rule allows one check, as the RBAC authorizer decides it. */
export function ruleAllows(rule: ResourceRule, c: AccessCheck): boolean {
  return (
    rule.verbs.some((v) => v === ALL || v === c.verb) &&
    (rule.apiGroups ?? []).some((g) => g === ALL || g === c.group) &&
    resourceMatches(rule, c) &&
    nameMatches(rule, c)
  );
}

/** The checks none of the rules allows, in their order. */
export function uncoveredChecks(
  rules: readonly ResourceRule[],
  checks: readonly AccessCheck[],
): AccessCheck[] {
  return checks.filter((c) => !rules.some((r) => ruleAllows(r, c)));
}
