// Export/import strategy and post-upgrade verification over MD Core's REST API, end to end: the real cluster,
// and the stand-in MD Core REST server (the product cannot run here) answering as the vendor's spec says.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freshNamespace, kubectl, type Namespace } from './cluster/context.ts';
import { startStandin, type Standin } from '../support/mdcore-standin.ts';
import { configMapsData, deploymentView, IMAGE, installFixture, runAction } from './support/action.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

const PASSWORD = 'archive-Pa55word!';

/** A namespace with the fixture release, and a stand-in that knows the release's admin API key. */
async function setup(
  prefix: string,
  version = '5.19.0',
): Promise<{ ns: string; standin: Standin; apiKey: string }> {
  const n: Namespace = await freshNamespace(prefix);
  cleanups.push(() => n.cleanup());
  await installFixture(n.name);
  const b64 = (
    await kubectl(['get', 'secret', 'mdcore-api-key', '-n', n.name, '-o', 'jsonpath={.data.value}'])
  ).stdout;
  const apiKey = Buffer.from(b64, 'base64').toString('utf8');
  const standin = await startStandin({
    apiKey,
    version,
    config: { workflows: ['default'], users: ['admin'] },
  });
  cleanups.push(() => standin.close());
  return { ns: n.name, standin, apiKey };
}

/** A private export directory per test, removed afterwards (the action writes the backup there). */
function exportDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'mdcore-export-'));
  cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const exportInputs = (ns: string, standin: Standin): Record<string, string> => ({
  'export-dir': exportDir(),
  namespace: ns,
  tag: '5.20.0',
  method: 'kubectl',
  strategy: 'export-import',
  'api-url': standin.url,
  'config-password': PASSWORD,
});

describe('export-import strategy', () => {
  it('exports before, imports the same bytes after, verifies the version; key read from Secret mdcore-api-key', async () => {
    const { ns, standin, apiKey } = await setup('exim-happy');
    standin.state.version = '5.20.0'; // what the upgraded instance will report
    const run = await runAction(exportInputs(ns, standin));
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');

    const file = run.outcome.extraOutputs['export-file'] ?? '';
    expect(existsSync(file)).toBe(true);
    const served = standin.requests.find((r) => r.method === 'GET' && r.path === '/admin/export/v2');
    expect(served?.response?.status).toBe(200);
    expect(readFileSync(file).equals(served?.response?.body ?? Buffer.alloc(0))).toBe(true);
    const imported = standin.requests.find((r) => r.method === 'POST' && r.path === '/admin/import/v2');
    expect(imported?.body.equals(readFileSync(file))).toBe(true);
    expect(imported?.headers.password).toBe(PASSWORD);
    expect(imported?.headers.apikey).toBe(apiKey);
    // The export happened before the image changed, the import after readiness.
    const ids = run.outcome.steps.map((s) => s.id);
    expect(ids).toEqual(expect.arrayContaining(['export', 'apply', 'wait', 'import', 'verify']));
    expect(ids.indexOf('export')).toBeLessThan(ids.indexOf('apply'));
    expect(ids.indexOf('import')).toBeGreaterThan(ids.indexOf('wait'));
    expect(ids).toContain('verify');
    expect(run.summary).toMatch(/SHA-256 [0-9a-f]{64}/);
    // Secrets never reach what the run wrote.
    expect(run.everything).not.toContain(PASSWORD);
    expect(run.everything).not.toContain(apiKey);
  });

  it('changes nothing in the cluster when the export fails', async () => {
    const { ns, standin } = await setup('exim-export-fails');
    standin.state.exportFailure = { status: 500, err: 'Export is not possible now' };
    const before = await deploymentView(ns);
    const cm = await configMapsData(ns);
    const run = await runAction(exportInputs(ns, standin));
    expect(run.outcome.result).toBe('failed');
    expect(run.outcome.error).toContain('the configuration export failed');
    expect(run.outcome.error).toContain('Export is not possible now');
    expect(run.outcome.error).toContain('Nothing in the cluster was changed');
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cm);
  });

  it('counts an import answered 304 (nothing changed) as success', async () => {
    const { ns, standin } = await setup('exim-304');
    standin.state.version = '5.20.0';
    standin.state.importAnswer = { status: 304 };
    const run = await runAction(exportInputs(ns, standin));
    expect(run.outcome.result).toBe('upgraded');
    expect(run.reporter.text()).toContain('304');
  });

  it('fails with the err_details of an import answered 400, rolls back, and keeps the export', async () => {
    const { ns, standin } = await setup('exim-400');
    standin.state.version = '5.20.0';
    standin.state.importAnswer = {
      status: 400,
      err: 'Import failed',
      err_details: 'workflow "x" references a missing engine',
    };
    const run = await runAction(exportInputs(ns, standin));
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('references a missing engine');
    expect(run.summary).toContain('references a missing engine');
    expect(existsSync(run.outcome.extraOutputs['export-file'] ?? '')).toBe(true);
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });
});

describe('verification after the upgrade', () => {
  it('rolls back when /version does not report the requested tag', async () => {
    const { ns, standin, apiKey } = await setup('verify-mismatch');
    // The stand-in keeps answering 5.19.0: the new pods are not what serves.
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'api-url': standin.url,
      'api-key': apiKey,
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('/version reports 5.19.0, not the requested tag 5.20.0');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });

  it("only warns with 'verify: warn', and checks engines and license when asked", async () => {
    const { ns, standin } = await setup('verify-warn');
    standin.state.license.days_left = 0;
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'api-url': standin.url,
      verify: 'warn',
      'verify-engines': 'true',
      'verify-license': 'true',
    });
    expect(run.outcome.result).toBe('upgraded');
    const warnings = run.reporter.lines.filter((l) => l.level === 'warning').map((l) => l.text);
    expect(warnings.join('\n')).toContain('/version reports 5.19.0');
    expect(warnings.join('\n')).toContain('0 days left');
  });

  it('falls back to a session from Secret mdcore-cred when there is no API key, and logs out', async () => {
    const { ns, standin } = await setup('verify-session');
    standin.state.version = '5.20.0';
    await kubectl(['delete', 'secret', 'mdcore-api-key', '-n', ns]);
    const secret = (key: string): Promise<string> =>
      kubectl(['get', 'secret', 'mdcore-cred', '-n', ns, '-o', `jsonpath={.data.${key}}`]).then((r) =>
        Buffer.from(r.stdout, 'base64').toString('utf8'),
      );
    const user = await secret('user');
    const password = await secret('password');
    standin.state.users = { [user]: password };
    const run = await runAction({ namespace: ns, tag: '5.20.0', method: 'kubectl', 'api-url': standin.url });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    const paths = standin.requests.map((r) => `${r.method} ${r.path}`);
    // The health check before any change needs no credentials; the session comes right after it.
    expect(paths.slice(0, 3)).toEqual(['GET /readyz', 'GET /version', 'POST /login']);
    expect(paths.at(-1)).toBe('POST /logout');
    expect(standin.state.sessions.size).toBe(0);
    expect(run.everything).not.toContain(password);
  });
});
