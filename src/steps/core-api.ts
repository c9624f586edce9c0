// MD Core's REST API around the upgrade: check it answers before anything changes, export the configuration
// before (export-import), import it after, and verify that the new version really serves (readyz, version,
// optionally engines, license and a smoke scan).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MdCoreApiError,
  MdCoreClient,
  SCAN_RESULT,
  type HttpTransport,
  type ScanReport,
} from '../core-api/client.ts';
import { cleanTestFile, eicarTestFile } from '../core-api/smoke-files.ts';
import type { RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';
import type { Plan } from '../plan/plan.ts';

export interface ApiSession {
  readonly client: MdCoreClient;
  close(): Promise<void>;
}

/**
 * A client authenticated with the api-key input, else Secret mdcore-api-key, else a session from mdcore-cred.
 * Before that, /readyz and /version must answer: an API that cannot be reached now would fail the
 * verification after the change (and roll it back), so the run stops while nothing has changed.
 */
export async function openApi(
  ctx: Pick<RunContext, 'plan' | 'kube' | 'reporter' | 'signal' | 'target'>,
  step: StepHandle,
  options: {
    readonly required: boolean;
    /** How requests travel (the API server's service proxy for green); default Node's fetch. */
    readonly transport?: HttpTransport;
    readonly refusal?: Refusal;
  },
): Promise<ApiSession> {
  const { plan, kube, reporter } = ctx;
  const namespace = ctx.target.namespace;
  if (!plan.apiUrl) throw new Error("the REST API is needed but 'api-url' is not set");
  // A short per-request timeout: an address that swallows packets should not hold the run for minutes.
  const probe = new MdCoreClient({
    baseUrl: plan.apiUrl,
    reporter,
    timeoutMs: PRE_CHECK_TIMEOUT_MS,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(options.transport ? { transport: options.transport } : {}),
  });
  await checkApiBeforeChange(probe, plan, step, options.required, options.refusal);
  let apiKey = plan.apiKey;
  let source = "the 'api-key' input";
  if (!apiKey) {
    apiKey = await kube.getSecretValue(namespace, 'mdcore-api-key', 'value');
    source = 'Secret mdcore-api-key';
  }
  const client = new MdCoreClient({
    baseUrl: plan.apiUrl,
    reporter,
    ...(apiKey ? { apiKey } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(options.transport ? { transport: options.transport } : {}),
  });
  if (apiKey) {
    step.detail(`REST API ${plan.apiUrl}, API key from ${source}`);
    return { client, close: async () => undefined };
  }
  const user = await kube.getSecretValue(namespace, 'mdcore-cred', 'user');
  const password = await kube.getSecretValue(namespace, 'mdcore-cred', 'password');
  if (!user || !password) {
    throw new Error(
      "no credentials for MD Core's REST API: give the 'api-key' input, or keep Secret mdcore-api-key (key value) or mdcore-cred (user, password) in the namespace",
    );
  }
  await client.login(user, password);
  step.detail(`REST API ${plan.apiUrl}, session for user from Secret mdcore-cred`);
  return { client, close: () => client.logout().catch(() => undefined) };
}

/** Per request of the check before any change (three attempts at most, as every idempotent call). */
export const PRE_CHECK_TIMEOUT_MS = 10_000;

/** What a refusal of checkApiBeforeChange says the run did, and what to check when the API does not answer. */
export interface Refusal {
  readonly stopped: string;
  readonly unreachable: string;
}

const BEFORE_CHANGE: Refusal = {
  stopped: 'so the run stopped before changing anything: nothing in the cluster was changed',
  unreachable:
    "Check that 'api-url' is reachable from the runner (a cluster-internal address needs a runner inside the cluster or a port-forward), or set 'verify: off' to upgrade without the API checks.",
};

/**
 * GET /readyz and GET /version before any change. Unreachable, or not healthy (without `force`), refuses the
 * run unless the API is optional for it (verify off and the strategy does not need it); then only a warning.
 */
export async function checkApiBeforeChange(
  client: Pick<MdCoreClient, 'readyz' | 'version' | 'baseUrl'>,
  plan: Pick<Plan, 'verify' | 'force'>,
  step: StepHandle,
  requiredByStrategy: boolean,
  refusal: Refusal = BEFORE_CHANGE,
): Promise<void> {
  const needed = requiredByStrategy || plan.verify !== 'off';
  const refuse = (problem: string, next: string): void => {
    const text = `MD Core's REST API at ${client.baseUrl} ${problem}`;
    if (!needed) return step.warn(`${text}; continuing because 'verify' is off`);
    throw new Error(`${text}, ${refusal.stopped}. ${next}`);
  };
  const unreachable = refusal.unreachable;
  let ready;
  try {
    ready = await client.readyz();
  } catch (err) {
    return refuse(`cannot be reached: ${describeApiError(err)}`, unreachable);
  }
  if (!ready.ok) {
    const text = `reports MD Core not healthy (/readyz answered ${ready.status})`;
    if (plan.force) step.warn(`${text}; continuing because 'force' is true`);
    else
      return refuse(
        text,
        "Fix MD Core first (see /readyz?verbose=true), or set 'force: true' to upgrade an unhealthy installation.",
      );
  } else step.detail(`/readyz before the upgrade: ${ready.status}`);
  try {
    const v = await client.version();
    step.detail(`/version before the upgrade: ${v.product_id ?? 'MetaDefender Core'} ${v.version}`);
  } catch (err) {
    refuse(`did not report its version: ${describeApiError(err)}`, unreachable);
  }
}

export interface ExportRecord {
  readonly file: string;
  readonly bytes: Buffer;
  readonly sha256: string;
}

/** GET /admin/export/v2 into a file; refuses an empty or failed export (nothing has changed yet). */
export async function exportConfig(
  ctx: RunContext,
  api: ApiSession,
  step: StepHandle,
): Promise<ExportRecord> {
  const { plan } = ctx;
  const password = plan.configPassword;
  if (!password) throw new Error("input 'config-password' is required to export the configuration");
  let bytes: Buffer;
  try {
    bytes = await api.client.exportConfig(password, { timeoutMs: 300_000 });
  } catch (err) {
    throw new Error(
      `the configuration export failed, so the upgrade did not start: ${describeApiError(err)}. Nothing in the cluster was changed.`,
      { cause: err },
    );
  }
  if (bytes.length === 0)
    throw new Error(
      'the configuration export is empty, so the upgrade did not start. Nothing in the cluster was changed.',
    );
  const dir = plan.exportDir ?? (process.env.RUNNER_TEMP || tmpdir());
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(dir, `mdcore-config-${plan.namespace}-${stamp}.zip`);
  writeFileSync(file, bytes, { mode: 0o600 });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  step.detail(`configuration exported: ${file} (${bytes.length} bytes, SHA-256 ${sha256})`);
  ctx.outcome.extraOutputs['export-file'] = file;
  return { file, bytes, sha256 };
}

/** POST /admin/import/v2 with the archive; 200 and 304 are success, anything else fails the upgrade. */
export async function importConfig(
  ctx: RunContext,
  api: ApiSession,
  exported: ExportRecord,
  step: StepHandle,
): Promise<void> {
  try {
    const res = await api.client.importConfig(exported.bytes, ctx.plan.configPassword ?? '', {
      timeoutMs: 300_000,
    });
    step.detail(
      res.status === 304
        ? 'configuration import: 304, nothing to change'
        : `configuration import: ${res.result ?? 'imported'}`,
    );
  } catch (err) {
    throw new Error(
      `the configuration import into the new version failed: ${describeApiError(err)}. The export stays at ${exported.file}.`,
      { cause: err },
    );
  }
}

export function describeApiError(err: unknown): string {
  if (err instanceof MdCoreApiError) {
    const details =
      err.err_details !== undefined
        ? ` (details: ${typeof err.err_details === 'string' ? err.err_details : JSON.stringify(err.err_details)})`
        : '';
    return `${err.message}${details}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** Whether a product version reported by /version matches the requested tag (prefix either way). */
export function versionMatches(version: string, tag: string): boolean {
  const v = version.trim().replace(/^v/, '');
  const t = tag.trim().replace(/^v/, '');
  return (
    v === t ||
    t.startsWith(`${v}-`) ||
    t.startsWith(`${v}.`) ||
    v.startsWith(`${t}.`) ||
    v.startsWith(`${t}-`)
  );
}

/** Proves the new version serves; returns the problems found (empty when all is well). */
export async function verifyServing(ctx: RunContext, api: ApiSession, step: StepHandle): Promise<string[]> {
  const { plan } = ctx;
  const problems: string[] = [];
  // The Service may still route to a terminating pod for a moment: give /readyz a bounded while.
  let ready = false;
  for (let attempt = 0; attempt < 30 && !ready; attempt++) {
    ready = (await api.client.readyz().catch(() => ({ ok: false }))).ok;
    if (!ready) await new Promise((r) => setTimeout(r, 2000));
  }
  if (!ready) problems.push('/readyz did not answer 200 within 60 s');
  else step.detail('/readyz: 200');
  try {
    const v = await api.client.version();
    if (versionMatches(v.version, plan.tag))
      step.detail(`/version: ${v.product_id ?? 'MetaDefender Core'} ${v.version} matches tag ${plan.tag}`);
    else
      problems.push(
        `/version reports ${v.version}, not the requested tag ${plan.tag}: the Service may still route to old pods, or the image tag does not carry the version it names`,
      );
  } catch (err) {
    problems.push(`/version failed: ${describeApiError(err)}`);
  }
  if (plan.verifyEngines) {
    try {
      const engines = await api.client.engines();
      const bad = engines.filter((e) => e.state !== 'production' || e.active === false);
      if (bad.length)
        problems.push(
          `${bad.length} engine(s) not in production: ${bad.map((e) => `${e.eng_name ?? e.eng_id ?? '?'} (${e.state ?? '?'})`).join(', ')}`,
        );
      else step.detail(`engines: ${engines.length} in production`);
    } catch (err) {
      problems.push(`/stat/engines failed: ${describeApiError(err)}`);
    }
  }
  if (plan.verifyScan) {
    problems.push(...(await smokeScan(api.client, step, { signal: ctx.signal })));
  }
  if (plan.verifyLicense) {
    try {
      const lic = await api.client.license();
      if ((lic.days_left ?? 0) <= 0) problems.push(`the license has ${lic.days_left ?? 'no'} days left`);
      else step.detail(`license: ${lic.days_left} days left`);
    } catch (err) {
      problems.push(`/admin/license failed: ${describeApiError(err)}`);
    }
  }
  return problems;
}

export interface SmokeScanOptions {
  /** Pause between two GET /file/{data_id} rounds. */
  pollIntervalMs?: number;
  /** At most this many rounds. */
  maxPolls?: number;
  /** And at most this long from the first submission. */
  maxWaitMs?: number;
  signal?: AbortSignal | undefined;
  now?: () => number;
}

export const SMOKE_SCAN_DEFAULTS = { pollIntervalMs: 2_000, maxPolls: 90, maxWaitMs: 180_000 } as const;

interface Sample {
  readonly label: string;
  readonly filename: string;
  readonly bytes: Buffer;
  readonly expect: number;
  readonly expectText: string;
  dataId?: string;
  report?: ScanReport;
}

const finished = (r: ScanReport | undefined): boolean =>
  r?.scan_results?.progress_percentage === 100 && r.scan_results.scan_all_result_i !== SCAN_RESULT.inProgress;

function verdictOf(r: ScanReport | undefined): string {
  const res = r?.scan_results;
  return `${res?.scan_all_result_a ?? 'no verdict'} (scan_all_result_i ${res?.scan_all_result_i ?? '?'})`;
}

/**
 * Submits the EICAR test file and a clean file through POST /file and asks GET /file/{data_id} until both
 * scans finish (bounded in rounds and in time). Returns the problems found: a failed submission or report, a
 * scan that did not finish, EICAR not reported infected, the clean file not reported clean.
 */
export async function smokeScan(
  client: Pick<MdCoreClient, 'submitFile' | 'scanReport'>,
  step: StepHandle,
  options: SmokeScanOptions = {},
): Promise<string[]> {
  const interval = options.pollIntervalMs ?? SMOKE_SCAN_DEFAULTS.pollIntervalMs;
  const maxPolls = options.maxPolls ?? SMOKE_SCAN_DEFAULTS.maxPolls;
  const maxWait = options.maxWaitMs ?? SMOKE_SCAN_DEFAULTS.maxWaitMs;
  const now = options.now ?? Date.now;
  const stamp = new Date(now()).toISOString();
  const samples: Sample[] = [
    {
      label: 'the EICAR test file',
      filename: 'eicar-smoke-test.com',
      bytes: eicarTestFile(),
      expect: SCAN_RESULT.infected,
      expectText: 'Infected',
    },
    {
      label: 'the clean test file',
      filename: 'clean-smoke-test.txt',
      bytes: cleanTestFile(stamp),
      expect: SCAN_RESULT.clean,
      expectText: 'No Threat Detected',
    },
  ];
  const problems: string[] = [];
  const started = now();
  for (const s of samples) {
    try {
      s.dataId = await client.submitFile(s.bytes, s.filename);
    } catch (err) {
      problems.push(`smoke scan: submitting ${s.label} failed: ${describeApiError(err)}`);
    }
  }
  const pending = (): Sample[] => samples.filter((s) => s.dataId !== undefined && !finished(s.report));
  for (let round = 1; round <= maxPolls && pending().length > 0; round++) {
    for (const s of pending()) {
      try {
        s.report = await client.scanReport(s.dataId ?? '');
      } catch (err) {
        problems.push(`smoke scan: reading the result of ${s.label} failed: ${describeApiError(err)}`);
        s.dataId = undefined;
      }
    }
    if (pending().length === 0 || options.signal?.aborted) break;
    if (round === maxPolls || now() - started + interval > maxWait) break;
    await pause(interval, options.signal);
  }
  const seconds = Math.round((now() - started) / 1000);
  for (const s of samples) {
    if (s.dataId === undefined) continue;
    if (!finished(s.report)) {
      problems.push(
        `smoke scan: ${s.label} (data_id ${s.dataId}) was not finished after ${seconds} s (progress ${s.report?.scan_results?.progress_percentage ?? 0} %)`,
      );
    } else if (s.report?.scan_results?.scan_all_result_i !== s.expect) {
      problems.push(
        `smoke scan: ${s.label} came back ${verdictOf(s.report)}, expected ${s.expectText} (${s.expect}): the engines may not be loaded or up to date`,
      );
    } else {
      step.detail(`smoke scan: ${s.label} is ${verdictOf(s.report)}, as expected`);
    }
  }
  return problems;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
