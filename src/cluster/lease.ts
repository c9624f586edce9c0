// The coordination.k8s.io Lease that lets only one run change a Deployment at a time: its name, who holds it,
// the decision to take it or refuse, renewal while a run holds it, and release.
//
// Workflow `concurrency:` groups serialise runs of one repository only; a second repository, a re-run or a
// terminal can still reach the same Deployment. The Lease is the cluster-side lock all of them share.
import { createHash } from 'node:crypto';
import { hostname, userInfo } from 'node:os';

export const LEASE_DURATION_SECONDS = 120;
export const RENEW_INTERVAL_MS = 30_000;
/** After a failed renewal, try again sooner than the normal interval. */
export const RETRY_INTERVAL_MS = 10_000;
/**
 * A holder stops believing it holds the Lease this long before others may take it over, to absorb clock skew
 * between this runner and theirs and the latency of the renewal request itself.
 */
export const SAFETY_MARGIN_MS = 15_000;
/** One Lease request; a hung request must not stall the renewal loop. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** Upper bound of a hold: no upgrade legitimately runs this long, and no loop may run unbounded. */
export const MAX_HOLD_MS = 48 * 3600_000;

export const LEASE_LABEL = 'app.kubernetes.io/managed-by';
export const LEASE_LABEL_VALUE = 'mdcore-upgrade-action';
export const LEASE_DEPLOYMENT_ANNOTATION = 'mdcore-upgrade-action/deployment';

/** The Lease as this module reads and writes it (plain JSON; times as RFC 3339 strings or Dates). */
export interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    creationTimestamp?: string | Date;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string | Date;
    renewTime?: string | Date;
    leaseTransitions?: number;
  };
}

/**
 * The Lease calls the holder needs. Errors carry the HTTP status as `status` (404 not found, 409 conflict or
 * already exists); `Kube` implements this.
 */
export interface LeaseApi {
  readLease(namespace: string, name: string): Promise<LeaseObject | undefined>;
  createLease(namespace: string, lease: LeaseObject): Promise<LeaseObject>;
  /** Replace with the body's metadata.resourceVersion as precondition. */
  replaceLease(namespace: string, name: string, lease: LeaseObject): Promise<LeaseObject>;
  /** Delete with uid and resourceVersion preconditions; resolves when it is gone (404 included). */
  deleteLease(
    namespace: string,
    name: string,
    preconditions: { uid: string; resourceVersion: string },
  ): Promise<void>;
}

/** What identifies one hold of a Lease: recorded in the journal so the post step can tell whether it is still ours. */
export interface LeaseRef {
  readonly namespace: string;
  readonly name: string;
  readonly holder: string;
  /** acquireTime as written by this holder: tells this hold from another one by the same holder identity. */
  readonly acquireTime: string;
}

const MAX_NAME = 253;

/** `mdcore-upgrade-<deployment>`, shortened with a hash when the result would exceed a valid object name. */
export function leaseName(deployment: string): string {
  const full = `mdcore-upgrade-${deployment}`;
  if (full.length <= MAX_NAME) return full;
  const hash = createHash('sha256').update(deployment).digest('hex').slice(0, 10);
  const head = full.slice(0, MAX_NAME - hash.length - 1).replace(/[^a-z0-9]+$/, '');
  return `${head}-${hash}`;
}

/**
 * Who holds the Lease, as a person reading it should see it: the workflow run (with its attempt) on GitHub,
 * else `user@host (pid N)` for a terminal.
 */
export function holderIdentity(
  env: Readonly<Record<string, string | undefined>>,
  local: { user: string; host: string; pid: number },
): string {
  const { GITHUB_SERVER_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT } = env;
  if (GITHUB_SERVER_URL && GITHUB_REPOSITORY && GITHUB_RUN_ID) {
    const attempt = GITHUB_RUN_ATTEMPT ? `/attempts/${GITHUB_RUN_ATTEMPT}` : '';
    return `${GITHUB_SERVER_URL}/${GITHUB_REPOSITORY}/actions/runs/${GITHUB_RUN_ID}${attempt}`;
  }
  return `${local.user}@${local.host} (pid ${local.pid})`;
}

/** holderIdentity for this process. */
export function currentHolderIdentity(): string {
  let user = process.env.USER || process.env.USERNAME || '';
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  return holderIdentity(process.env, { user, host: hostname(), pid: process.pid });
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function timeMs(t: string | Date | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Someone else's hold: who, since when, last renewed, and when it expires unless renewed. */
export interface OtherHold {
  readonly holder: string;
  readonly acquiredAt: number | undefined;
  readonly renewedAt: number | undefined;
  readonly expiresAt: number;
}

export type LeaseState =
  | { readonly kind: 'free' }
  | { readonly kind: 'ours' }
  | ({ readonly kind: 'held' } & OtherHold)
  | ({ readonly kind: 'expired' } & OtherHold);

/**
 * Decides what a Lease means for `me` at `nowMs`. `ours` only when the holder AND the acquireTime are this
 * hold's; the same holder identity without that acquireTime (another job of the same workflow run) is someone
 * else. A Lease without a holder is free; one not renewed within its duration is expired.
 */
export function leaseState(
  lease: LeaseObject | undefined,
  me: { holder: string; acquireTime?: string | undefined },
  nowMs: number,
): LeaseState {
  const spec = lease?.spec;
  const holder = spec?.holderIdentity ?? '';
  if (!lease || holder === '') return { kind: 'free' };
  const acquiredAt = timeMs(spec?.acquireTime);
  if (holder === me.holder && me.acquireTime !== undefined && acquiredAt === timeMs(me.acquireTime)) {
    return { kind: 'ours' };
  }
  const renewedAt = timeMs(spec?.renewTime) ?? acquiredAt;
  const durationMs = (spec?.leaseDurationSeconds ?? LEASE_DURATION_SECONDS) * 1000;
  // No time at all: count from its creation so a malformed Lease still expires instead of blocking forever.
  const base = renewedAt ?? timeMs(lease.metadata?.creationTimestamp) ?? 0;
  const expiresAt = base + durationMs;
  const other: OtherHold = { holder, acquiredAt, renewedAt, expiresAt };
  return nowMs < expiresAt ? { kind: 'held', ...other } : { kind: 'expired', ...other };
}

const iso = (ms: number | undefined): string =>
  ms === undefined ? 'an unknown time' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** How to see and clear a Lease, for messages. */
export function leaseCommands(namespace: string, name: string): { show: string; clear: string } {
  return {
    show: `kubectl get lease ${name} -n ${namespace} -o yaml`,
    clear: `kubectl delete lease ${name} -n ${namespace}`,
  };
}

export class LeaseHeldError extends Error {
  readonly holder: string;
  constructor(namespace: string, name: string, deployment: string, state: OtherHold) {
    const cmd = leaseCommands(namespace, name);
    super(
      `Another run is upgrading Deployment "${deployment}": Lease ${namespace}/${name} is held by ${state.holder} ` +
        `since ${iso(state.acquiredAt)} (last renewed ${iso(state.renewedAt)}; it expires at ${iso(state.expiresAt)} ` +
        `unless renewed). This run changed nothing. Wait for that run to finish and run again. If no run is ` +
        `active (a runner that died), the Lease expires by itself ${LEASE_DURATION_SECONDS} s after its last ` +
        `renewal; to clear it at once: ${cmd.clear} (see it with: ${cmd.show}).`,
    );
    this.name = 'LeaseHeldError';
    this.holder = state.holder;
  }
}

export class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

const statusOf = (err: unknown): number | undefined => {
  const s = (err as { status?: unknown } | undefined)?.status;
  return typeof s === 'number' ? s : undefined;
};
const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface AcquireOptions {
  readonly namespace: string;
  readonly deployment: string;
  readonly holder: string;
  /**
   * Resume a hold recorded earlier (the post step after a killed main step): a Lease still carrying this
   * acquireTime and holder is ours and is kept; otherwise the Lease is acquired like a new one.
   */
  readonly resume?: string | undefined;
  readonly now?: () => number;
  readonly durationSeconds?: number;
  readonly renewIntervalMs?: number;
  readonly retryIntervalMs?: number;
  readonly maxHoldMs?: number;
  /** Told once when the hold is lost (taken over, or renewals failing too long). */
  readonly onLost?: (reason: string) => void;
}

/** What acquire found, for the step's detail line. */
export type AcquiredHow = 'created' | 'took-over-expired' | 'took-over-released' | 'resumed';

const MAX_ACQUIRE_ATTEMPTS = 3;

/**
 * Takes the Deployment's Lease or throws LeaseHeldError naming its holder. Creating it, or replacing an
 * expired one with its resourceVersion as precondition, makes a race between two runs end with exactly one
 * winner: the loser gets 409 and re-reads, finding the winner's fresh Lease. Renewal starts at once.
 */
export async function acquireLease(api: LeaseApi, o: AcquireOptions): Promise<LeaseHold> {
  const now = o.now ?? Date.now;
  const name = leaseName(o.deployment);
  const ns = o.namespace;
  const durationSeconds = o.durationSeconds ?? LEASE_DURATION_SECONDS;
  const labels = { [LEASE_LABEL]: LEASE_LABEL_VALUE };
  const annotations = { [LEASE_DEPLOYMENT_ANNOTATION]: o.deployment };
  let lastConflict = '';
  for (let attempt = 0; attempt < MAX_ACQUIRE_ATTEMPTS; attempt++) {
    const current = await withTimeout(api.readLease(ns, name), REQUEST_TIMEOUT_MS, `reading Lease ${name}`);
    const t = now();
    const stamp = microTime(t);
    const state = leaseState(current, { holder: o.holder, acquireTime: o.resume }, t);
    if (state.kind === 'held') throw new LeaseHeldError(ns, name, o.deployment, state);
    try {
      if (!current) {
        const created = await withTimeout(
          api.createLease(ns, {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name, namespace: ns, labels, annotations },
            spec: {
              holderIdentity: o.holder,
              leaseDurationSeconds: durationSeconds,
              acquireTime: stamp,
              renewTime: stamp,
              leaseTransitions: 0,
            },
          }),
          REQUEST_TIMEOUT_MS,
          `creating Lease ${name}`,
        );
        return new LeaseHold(api, { namespace: ns, name, holder: o.holder, acquireTime: stamp }, created, t, {
          ...o,
          durationSeconds,
          how: 'created',
        });
      }
      const keep = state.kind === 'ours';
      const acquireTime = keep && o.resume ? o.resume : stamp;
      const body: LeaseObject = {
        ...current,
        metadata: {
          ...current.metadata,
          labels: { ...current.metadata?.labels, ...labels },
          annotations: { ...current.metadata?.annotations, ...annotations },
        },
        spec: {
          ...current.spec,
          holderIdentity: o.holder,
          leaseDurationSeconds: durationSeconds,
          acquireTime,
          renewTime: stamp,
          leaseTransitions: (current.spec?.leaseTransitions ?? 0) + (keep ? 0 : 1),
        },
      };
      const replaced = await withTimeout(
        api.replaceLease(ns, name, body),
        REQUEST_TIMEOUT_MS,
        `taking over Lease ${name}`,
      );
      const how: AcquiredHow = keep
        ? 'resumed'
        : state.kind === 'free'
          ? 'took-over-released'
          : 'took-over-expired';
      return new LeaseHold(api, { namespace: ns, name, holder: o.holder, acquireTime }, replaced, t, {
        ...o,
        durationSeconds,
        how,
        ...(state.kind === 'expired' ? { previousHolder: state.holder } : {}),
      });
    } catch (err) {
      // 409: another run created or took the Lease between our read and write; read again to name it.
      if (statusOf(err) !== 409) throw err;
      lastConflict = messageOf(err);
    }
  }
  throw new Error(
    `could not take Lease ${ns}/${name}: it changed under this run ${MAX_ACQUIRE_ATTEMPTS} times (${lastConflict}). This run changed nothing; run again.`,
  );
}

interface HoldOptions extends AcquireOptions {
  readonly durationSeconds: number;
  readonly how: AcquiredHow;
  readonly previousHolder?: string;
}

export type ReleaseResult = { readonly released: true } | { readonly released: false; readonly why: string };

/**
 * A held Lease: renews itself every RENEW_INTERVAL_MS with the last resourceVersion as precondition. `signal`
 * aborts when the hold is lost, so the run stops before another run could believe it holds the Lease too.
 */
export class LeaseHold {
  readonly ref: LeaseRef;
  readonly how: AcquiredHow;
  readonly previousHolder: string | undefined;
  readonly durationSeconds: number;
  private readonly controller = new AbortController();
  private readonly api: LeaseApi;
  private readonly now: () => number;
  private readonly options: HoldOptions;
  private lease: LeaseObject;
  /** renewTime of the last renewal the server accepted: others may take over from it + duration. */
  private renewedAt: number;
  private readonly startedAt: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private deadline: ReturnType<typeof setTimeout> | undefined;
  private inFlight = false;
  private stopped = false;
  private lostReason: string | undefined;
  private failures = 0;
  /** Successful renewals, for the summary and tests. */
  renewals = 0;

  constructor(api: LeaseApi, ref: LeaseRef, lease: LeaseObject, renewedAt: number, options: HoldOptions) {
    this.api = api;
    this.ref = ref;
    this.lease = lease;
    this.now = options.now ?? Date.now;
    this.options = options;
    this.how = options.how;
    this.previousHolder = options.previousHolder;
    this.durationSeconds = options.durationSeconds;
    this.renewedAt = renewedAt;
    this.startedAt = this.now();
    this.armDeadline();
    this.schedule(options.renewIntervalMs ?? RENEW_INTERVAL_MS);
  }

  /** Aborted when the Lease was lost; `reason` is a LeaseLostError. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Why the hold was lost, or undefined while it holds. */
  get lost(): string | undefined {
    return this.lostReason;
  }

  private get lossAfterMs(): number {
    return Math.max(0, this.durationSeconds * 1000 - SAFETY_MARGIN_MS);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
    // Renewal alone never keeps the process alive: a run that ended without releasing lets its Lease expire.
    this.timer.unref?.();
  }

  /** Independent of any hung request: the hold ends when the last accepted renewal is about to expire. */
  private armDeadline(): void {
    clearTimeout(this.deadline);
    const ms = this.renewedAt + this.lossAfterMs - this.now();
    this.deadline = setTimeout(
      () => {
        const since = Math.round((this.now() - this.renewedAt) / 1000);
        this.lose(
          `Lease ${this.ref.namespace}/${this.ref.name} could not be renewed for ${since} s (${this.failures} failed attempt(s)); another run may take it over soon, so this run stopped`,
        );
      },
      Math.max(0, ms),
    );
    this.deadline.unref?.();
  }

  private lose(reason: string): void {
    if (this.stopped) return;
    this.lostReason = reason;
    this.halt();
    this.controller.abort(new LeaseLostError(reason));
    this.options.onLost?.(reason);
  }

  private halt(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    if (this.now() - this.startedAt >= (this.options.maxHoldMs ?? MAX_HOLD_MS)) {
      this.lose(
        `Lease ${this.ref.namespace}/${this.ref.name} was held for the longest time one run may hold it (${Math.round((this.options.maxHoldMs ?? MAX_HOLD_MS) / 3600_000)} h); this run stopped`,
      );
      return;
    }
    this.inFlight = true;
    try {
      await this.renewOnce();
      if (this.stopped) return;
      this.failures = 0;
      this.renewals++;
      this.armDeadline();
      this.schedule(this.options.renewIntervalMs ?? RENEW_INTERVAL_MS);
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof LeaseLostError) {
        this.lose(err.message);
        return;
      }
      this.failures++;
      this.schedule(this.options.retryIntervalMs ?? RETRY_INTERVAL_MS);
    } finally {
      this.inFlight = false;
    }
  }

  /** One renewal; a conflict re-reads once, so a lost response to our own earlier write is not a takeover. */
  private async renewOnce(): Promise<void> {
    const { namespace, name } = this.ref;
    for (let attempt = 0; attempt < 2; attempt++) {
      const t = this.now();
      const body: LeaseObject = { ...this.lease, spec: { ...this.lease.spec, renewTime: microTime(t) } };
      try {
        this.lease = await withTimeout(
          this.api.replaceLease(namespace, name, body),
          REQUEST_TIMEOUT_MS,
          `renewing Lease ${name}`,
        );
        this.renewedAt = t;
        return;
      } catch (err) {
        const status = statusOf(err);
        if (status !== 409 && status !== 404) throw err;
        const current = await withTimeout(
          this.api.readLease(namespace, name),
          REQUEST_TIMEOUT_MS,
          `reading Lease ${name}`,
        );
        const state = leaseState(current, this.ref, this.now());
        if (state.kind !== 'ours' || !current) {
          const who =
            state.kind === 'held' || state.kind === 'expired'
              ? `it is now held by ${state.holder}`
              : 'it was deleted or released by someone else';
          throw new LeaseLostError(
            `Lease ${namespace}/${name} is no longer this run's: ${who}. This run stopped so that two runs never change the Deployment at once`,
          );
        }
        this.lease = current;
      }
    }
    throw new Error(`renewing Lease ${name}: it kept changing under this run`);
  }

  /** Stops renewing without touching the Lease (it then expires by itself). */
  stop(): void {
    this.halt();
  }

  /** Stops renewing and deletes the Lease if it is still this hold's; never throws. */
  async release(): Promise<ReleaseResult> {
    this.halt();
    if (this.lostReason) return { released: false, why: this.lostReason };
    return releaseLease(this.api, this.ref, this.now);
  }
}

/**
 * Deletes the Lease only while it is still this hold's (holder and acquireTime), with uid and resourceVersion
 * as preconditions so a takeover between the read and the delete is never undone. Never throws.
 */
export async function releaseLease(
  api: LeaseApi,
  ref: LeaseRef,
  now: () => number = Date.now,
): Promise<ReleaseResult> {
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      const current = await withTimeout(
        api.readLease(ref.namespace, ref.name),
        REQUEST_TIMEOUT_MS,
        `reading Lease ${ref.name}`,
      );
      if (!current) return { released: false, why: 'the Lease no longer exists' };
      const state = leaseState(current, ref, now());
      if (state.kind !== 'ours') {
        return {
          released: false,
          why:
            state.kind === 'free'
              ? 'the Lease was already released'
              : `the Lease is now held by ${state.holder}; left as it is`,
        };
      }
      const uid = current.metadata?.uid ?? '';
      const resourceVersion = current.metadata?.resourceVersion ?? '';
      try {
        await withTimeout(
          api.deleteLease(ref.namespace, ref.name, { uid, resourceVersion }),
          REQUEST_TIMEOUT_MS,
          `deleting Lease ${ref.name}`,
        );
        return { released: true };
      } catch (err) {
        // 409: renewed or taken between the read and the delete: read again and decide again.
        if (statusOf(err) !== 409) throw err;
      }
    }
    return { released: false, why: 'the Lease kept changing; left to expire' };
  } catch (err) {
    return {
      released: false,
      why: `${messageOf(err)}; it expires by itself ${LEASE_DURATION_SECONDS} s after its last renewal`,
    };
  }
}

/** A line for dry-run and summaries: who holds the Deployment's Lease right now. */
export async function describeLease(
  api: LeaseApi,
  namespace: string,
  deployment: string,
  now: () => number = Date.now,
): Promise<{ held: boolean; text: string }> {
  const name = leaseName(deployment);
  const current = await withTimeout(
    api.readLease(namespace, name),
    REQUEST_TIMEOUT_MS,
    `reading Lease ${name}`,
  );
  const state = leaseState(current, { holder: '' }, now());
  if (state.kind === 'held') {
    return {
      held: true,
      text: `Lease ${namespace}/${name} is held by ${state.holder} since ${iso(state.acquiredAt)} (expires at ${iso(state.expiresAt)} unless renewed): a real run now would be refused`,
    };
  }
  if (state.kind === 'expired') {
    return {
      held: false,
      text: `Lease ${namespace}/${name} was left by ${state.holder} and expired at ${iso(state.expiresAt)}: a real run would take it over`,
    };
  }
  return { held: false, text: `Lease ${namespace}/${name} is free: a real run would take it` };
}
