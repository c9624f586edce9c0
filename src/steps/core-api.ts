// MD Core's REST API around the upgrade: export the configuration before (export-import), import it after,
// and verify that the new version really serves (readyz, version, optionally engines and license).
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MdCoreApiError, MdCoreClient } from '../core-api/client.ts';
import type { RunContext } from '../engine/context.ts';
import type { StepHandle } from '../engine/timeline.ts';

export interface ApiSession {
  readonly client: MdCoreClient;
  close(): Promise<void>;
}

/** A client authenticated with the api-key input, else Secret mdcore-api-key, else a session from mdcore-cred. */
export async function openApi(
  ctx: Pick<RunContext, 'plan' | 'kube' | 'reporter' | 'signal'>,
  step: StepHandle,
): Promise<ApiSession> {
  const { plan, kube, reporter } = ctx;
  if (!plan.apiUrl) throw new Error("the REST API is needed but 'api-url' is not set");
  let apiKey = plan.apiKey;
  let source = "the 'api-key' input";
  if (!apiKey) {
    apiKey = await kube.getSecretValue(plan.namespace, 'mdcore-api-key', 'value');
    source = 'Secret mdcore-api-key';
  }
  const client = new MdCoreClient({
    baseUrl: plan.apiUrl,
    reporter,
    ...(apiKey ? { apiKey } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (apiKey) {
    step.detail(`REST API ${plan.apiUrl}, API key from ${source}`);
    return { client, close: async () => undefined };
  }
  const user = await kube.getSecretValue(plan.namespace, 'mdcore-cred', 'user');
  const password = await kube.getSecretValue(plan.namespace, 'mdcore-cred', 'password');
  if (!user || !password) {
    throw new Error(
      "no credentials for MD Core's REST API: give the 'api-key' input, or keep Secret mdcore-api-key (key value) or mdcore-cred (user, password) in the namespace",
    );
  }
  await client.login(user, password);
  step.detail(`REST API ${plan.apiUrl}, session for user from Secret mdcore-cred`);
  return { client, close: () => client.logout().catch(() => undefined) };
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
