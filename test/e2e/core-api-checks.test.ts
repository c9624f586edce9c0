// The REST API checks around an upgrade, end to end on the real cluster with the stand-in MD Core: api-url
// checked before any change (dry runs included), and the smoke scan of verify-scan.
import { afterEach, describe, expect, it } from 'vitest';
import { freshNamespace, kubectl } from './cluster/context.ts';
import { startStandin, type Standin } from '../support/mdcore-standin.ts';
import { configMapsData, deploymentView, IMAGE, installFixture, runAction } from './support/action.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function setup(prefix: string): Promise<{ ns: string; standin: Standin }> {
  const n = await freshNamespace(prefix);
  cleanups.push(() => n.cleanup());
  await installFixture(n.name);
  const b64 = (
    await kubectl(['get', 'secret', 'mdcore-api-key', '-n', n.name, '-o', 'jsonpath={.data.value}'])
  ).stdout;
  const standin = await startStandin({
    apiKey: Buffer.from(b64, 'base64').toString('utf8'),
    version: '5.19.0',
  });
  cleanups.push(() => standin.close());
  return { ns: n.name, standin };
}

describe('api-url checked before any change', () => {
  it('an unhealthy API refuses a dry run and a real run; nothing in the cluster changes', async () => {
    const { ns, standin } = await setup('api-unhealthy');
    standin.state.ready = false;
    const before = await deploymentView(ns);
    const cms = await configMapsData(ns);
    for (const dryRun of ['true', 'false']) {
      const run = await runAction({
        namespace: ns,
        tag: '5.20.0',
        method: 'kubectl',
        'api-url': standin.url,
        'dry-run': dryRun,
      });
      expect(run.outcome.result, `dry-run ${dryRun}`).toBe('failed');
      expect(run.outcome.error).toContain('/readyz answered 503');
      expect(run.outcome.error).toContain('nothing in the cluster was changed');
      expect(run.outcome.steps.map((s) => s.id)).not.toContain('apply');
    }
    expect(await deploymentView(ns)).toEqual(before);
    expect(await configMapsData(ns)).toEqual(cms);
  });

  it('an unreachable API refuses the run; with verify off it is only a warning', async () => {
    const { ns, standin } = await setup('api-unreachable');
    const url = standin.url;
    await standin.close();
    const refused = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'api-url': url,
      'dry-run': 'true',
    });
    expect(refused.outcome.result).toBe('failed');
    expect(refused.outcome.error).toMatch(/cannot be reached.*nothing in the cluster was changed/s);
    // verify off: the API is not needed, so the run does not even open it.
    const off = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'api-url': url,
      verify: 'off',
      'dry-run': 'true',
    });
    expect(off.outcome.result).toBe('dry-run');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });
});

describe('verify-scan', () => {
  it('scans EICAR and a clean file after the upgrade and keeps the upgrade', async () => {
    const { ns, standin } = await setup('scan-ok');
    standin.state.version = '5.20.0';
    standin.state.scanPolls = 2;
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'api-url': standin.url,
      'verify-scan': 'true',
    });
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    const verify = run.outcome.steps.find((s) => s.id === 'verify');
    expect(verify?.details.join('\n')).toContain('smoke scan: the EICAR test file is Infected');
    expect(verify?.details.join('\n')).toContain('smoke scan: the clean test file is No Threat Detected');
    expect(standin.requests.filter((r) => r.method === 'POST' && r.path === '/file')).toHaveLength(2);
  });

  it('engines that miss EICAR fail the verification, and the upgrade is rolled back', async () => {
    const { ns, standin } = await setup('scan-miss');
    standin.state.version = '5.20.0';
    standin.state.scanPolls = 0;
    standin.state.scanVerdict = 0;
    const run = await runAction({
      namespace: ns,
      tag: '5.20.0',
      method: 'kubectl',
      'api-url': standin.url,
      'verify-scan': 'true',
    });
    expect(run.outcome.result).toBe('rolled-back');
    expect(run.outcome.error).toContain('smoke scan: the EICAR test file came back No Threat Detected');
    expect((await deploymentView(ns)).image).toBe(`${IMAGE}:5.19.0`);
  });
});
