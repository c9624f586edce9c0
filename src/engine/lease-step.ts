// The engine's use of the Deployment's Lease: taken before anything could change (a dry run only reports it),
// released once nothing more will change; the journal names it so the post step can release it too.
import type { Kube } from '../cluster/kube.ts';
import {
  acquireLease,
  currentHolderIdentity,
  describeLease,
  RENEW_INTERVAL_MS,
  type LeaseHold,
} from '../cluster/lease.ts';
import type { Plan } from '../plan/plan.ts';
import type { Reporter } from '../report/reporter.ts';
import type { Journal } from './journal.ts';
import type { StepHandle } from './timeline.ts';

/** Takes the Deployment's Lease for a real run (refused while another run holds it); a dry run only reports it. */
export async function holdLease(
  kube: Kube,
  plan: Plan,
  deps: { readonly reporter: Reporter; readonly leaseHolder?: string | undefined },
  h: StepHandle,
): Promise<LeaseHold | undefined> {
  if (plan.dryRun) {
    const d = await describeLease(kube, plan.namespace, plan.deployment);
    if (d.held) h.warn(d.text);
    else h.detail(`${d.text} (a dry run does not take it)`);
    return undefined;
  }
  const hold = await acquireLease(kube, {
    namespace: plan.namespace,
    deployment: plan.deployment,
    holder: deps.leaseHolder ?? currentHolderIdentity(),
    onLost: (why) => deps.reporter.warning(why, 'Lease lost'),
  });
  const { namespace, name, holder } = hold.ref;
  const how =
    hold.how === 'took-over-expired'
      ? `took it over from ${hold.previousHolder ?? 'a run'} whose hold had expired`
      : hold.how === 'created'
        ? 'created it'
        : 'took it';
  h.detail(
    `Lease ${namespace}/${name}: ${how}; held by ${holder}, renewed every ${RENEW_INTERVAL_MS / 1000} s, released at the end`,
  );
  return hold;
}

/** Releases the Lease once nothing more will change; the journal then no longer asks the post step to. */
export async function releaseHeldLease(
  lease: LeaseHold,
  journal: Journal | undefined,
  reporter: Reporter,
): Promise<void> {
  const r = await lease.release();
  const { namespace, name } = lease.ref;
  if (r.released) {
    reporter.info(`Released Lease ${namespace}/${name}.`);
    journal?.update({ lease: undefined });
  } else if (!lease.lost) {
    reporter.warning(`Lease ${namespace}/${name} was not released: ${r.why}.`, 'Lease');
  }
}
