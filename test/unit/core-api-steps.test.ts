// The REST API steps: the check before any change (api-url reachable and healthy) and the smoke scan.
import { createServer } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { MdCoreClient, type ScanReport } from '../../src/core-api/client.ts';
import { isEicarTestFile } from '../../src/core-api/smoke-files.ts';
import type { StepHandle } from '../../src/engine/timeline.ts';
import { parseInputs } from '../../src/plan/inputs.ts';
import type { Plan } from '../../src/plan/plan.ts';
import { checkApiBeforeChange, openApi, smokeScan } from '../../src/steps/core-api.ts';
import { startStandin, type Standin, type StandinOptions } from '../support/mdcore-standin.ts';
import { RecordingReporter } from '../support/recording-reporter.ts';

const open: Standin[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function standin(options: StandinOptions = {}): Promise<Standin> {
  const s = await startStandin(options);
  open.push(s);
  return s;
}

function handle(): StepHandle & { details: string[]; warnings: string[] } {
  const details: string[] = [];
  const warnings: string[] = [];
  return { details, warnings, detail: (t) => void details.push(t), warn: (t) => void warnings.push(t) };
}

function clientOf(url: string, apiKey?: string): MdCoreClient {
  return new MdCoreClient({
    baseUrl: url,
    reporter: new RecordingReporter(),
    retries: 0,
    timeoutMs: 5_000,
    ...(apiKey ? { apiKey } : {}),
  });
}

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function plan(extra: Record<string, string> = {}): Plan {
  const res = parseInputs({ namespace: 'mdcore', tag: '5.20.0', 'api-url': 'http://127.0.0.1:9', ...extra });
  if (!res.ok) throw new Error(res.errors.map((e) => e.message).join('; '));
  return res.plan;
}

describe('checkApiBeforeChange', () => {
  it('passes a healthy API and records what runs before the upgrade', async () => {
    const s = await standin({ version: '5.19.0' });
    const h = handle();
    await checkApiBeforeChange(clientOf(s.url), plan(), h, false);
    expect(h.details).toEqual([
      '/readyz before the upgrade: 200',
      '/version before the upgrade: MSCL 5.19.0',
    ]);
    expect(s.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /readyz', 'GET /version']);
  });

  it('refuses an unreachable API, saying nothing was changed and what to do', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const err = await checkApiBeforeChange(clientOf(url), plan(), handle(), false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const message = (err as Error).message;
    expect(message).toContain(`MD Core's REST API at ${url} cannot be reached`);
    expect(message).toContain('ECONNREFUSED');
    expect(message).toContain('nothing in the cluster was changed');
    expect(message).toContain("'api-url'");
  });

  it('refuses an unhealthy API (503), unless force is true', async () => {
    const s = await standin({ ready: false });
    await expect(checkApiBeforeChange(clientOf(s.url), plan(), handle(), false)).rejects.toThrow(
      /not healthy \(\/readyz answered 503\).*nothing in the cluster was changed/s,
    );
    const h = handle();
    await checkApiBeforeChange(clientOf(s.url), plan({ force: 'true' }), h, false);
    expect(h.warnings.join('\n')).toContain("continuing because 'force' is true");
  });

  it('refuses when /version fails', async () => {
    const s = await standin({ faults: [{ path: '/version', status: 500, err: 'boom' }] });
    await expect(checkApiBeforeChange(clientOf(s.url), plan(), handle(), false)).rejects.toThrow(
      /did not report its version.*HTTP 500.*nothing in the cluster was changed/s,
    );
  });

  it('only warns when verify is off and the strategy needs no export', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const h = handle();
    await checkApiBeforeChange(clientOf(url), plan({ verify: 'off' }), h, false);
    expect(h.warnings.join('\n')).toContain("continuing because 'verify' is off");
    await expect(
      checkApiBeforeChange(
        clientOf(url),
        plan({ verify: 'off', strategy: 'export-import', 'config-password': 'pw-123456' }),
        handle(),
        true,
      ),
    ).rejects.toThrow(/nothing in the cluster was changed/);
  });

  it('openApi checks the API before it reads any credential', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const getSecretValue = vi.fn(async () => 'never');
    const ctx = {
      plan: plan({ 'api-url': url }),
      kube: { getSecretValue } as never,
      reporter: new RecordingReporter(),
      signal: undefined,
      target: { namespace: 'mdcore', deployment: 'md-core', container: 'md-core', selector: 'app=md-core' },
    };
    await expect(openApi(ctx, handle(), { required: false })).rejects.toThrow(
      /cannot be reached.*nothing in the cluster was changed/s,
    );
    expect(getSecretValue).not.toHaveBeenCalled();
  }, 20_000);
});

describe('smokeScan', () => {
  it('EICAR comes back infected and the clean file clean: no problems', async () => {
    const s = await standin({ scanPolls: 2 });
    const h = handle();
    const problems = await smokeScan(clientOf(s.url, s.state.apiKey), h, { pollIntervalMs: 5 });
    expect(problems).toEqual([]);
    expect(h.details).toEqual([
      'smoke scan: the EICAR test file is Infected (scan_all_result_i 1), as expected',
      'smoke scan: the clean test file is No Threat Detected (scan_all_result_i 0), as expected',
    ]);
    const submitted = [...s.state.scans.values()];
    expect(submitted.map((x) => isEicarTestFile(x.bytes))).toEqual([true, false]);
    // Two answers in progress, then the verdict, for each file.
    expect(submitted.map((x) => x.polls)).toEqual([3, 3]);
  });

  it('an engine that misses EICAR fails the smoke scan', async () => {
    const s = await standin({ scanPolls: 0, scanVerdict: 0 });
    const problems = await smokeScan(clientOf(s.url), handle(), { pollIntervalMs: 5 });
    expect(problems).toEqual([
      'smoke scan: the EICAR test file came back No Threat Detected (scan_all_result_i 0), expected Infected (1): the engines may not be loaded or up to date',
    ]);
  });

  it('a scan that fails in the product fails the smoke scan for both files', async () => {
    const s = await standin({ scanPolls: 0, scanVerdict: 3 });
    const problems = await smokeScan(clientOf(s.url), handle(), { pollIntervalMs: 5 });
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toContain('came back Failed (scan_all_result_i 3)');
  });

  it('a refused submission is a problem, and is not sent again', async () => {
    const s = await standin();
    s.state.scanQueueFull = true;
    const problems = await smokeScan(clientOf(s.url), handle(), { pollIntervalMs: 5 });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('submitting the EICAR test file failed: MD Core POST /file: HTTP 503');
    expect(s.requests.filter((r) => r.path === '/file')).toHaveLength(2);
  });

  it('a scan that never finishes stops after the time bound (fake clock)', async () => {
    vi.useFakeTimers();
    const inProgress: ScanReport = {
      scan_results: { progress_percentage: 40, scan_all_result_i: 255, scan_all_result_a: 'In Progress' },
    };
    const client = {
      submitFile: vi.fn(async (_b: Buffer, name: string) => `id-${name}`),
      scanReport: vi.fn(async () => inProgress),
    };
    let settled = false;
    const run = smokeScan(client, handle()).then((p) => {
      settled = true;
      return p;
    });
    await vi.advanceTimersByTimeAsync(170_000);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(settled).toBe(true);
    const problems = await run;
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(
      /the EICAR test file \(data_id id-eicar-smoke-test.com\) was not finished after 17\d s \(progress 40 %\)/,
    );
    // 2 s apart within 180 s: at most 90 rounds of two reports.
    expect(client.scanReport.mock.calls.length).toBeLessThanOrEqual(180);
    expect(client.scanReport.mock.calls.length).toBeGreaterThan(150);
  });

  it('a scan that never finishes stops after the round bound', async () => {
    vi.useFakeTimers();
    const client = {
      submitFile: vi.fn(async () => 'one'),
      scanReport: vi.fn(async (): Promise<ScanReport> => ({ scan_results: { progress_percentage: 10 } })),
    };
    const run = smokeScan(client, handle(), { maxPolls: 4, pollIntervalMs: 1_000, maxWaitMs: 3_600_000 });
    await vi.advanceTimersByTimeAsync(10_000);
    const problems = await run;
    expect(client.scanReport).toHaveBeenCalledTimes(8);
    expect(problems.every((p) => p.includes('was not finished'))).toBe(true);
  });

  it('stops waiting when the run is cancelled', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const client = {
      submitFile: vi.fn(async () => 'one'),
      scanReport: vi.fn(async (): Promise<ScanReport> => ({ scan_results: { progress_percentage: 10 } })),
    };
    const run = smokeScan(client, handle(), { signal: controller.signal });
    await vi.advanceTimersByTimeAsync(5_000);
    controller.abort();
    await vi.advanceTimersByTimeAsync(0);
    const problems = await run;
    expect(client.scanReport.mock.calls.length).toBeLessThanOrEqual(8);
    expect(problems).toHaveLength(2);
  });
});
