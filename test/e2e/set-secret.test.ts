// set-secret on the helm route, end to end: the value reaches the chart through a private values file, never
// helm's command line, the log or the summary.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kubectlJson } from './cluster/context.ts';
import { installFixture, runAction } from './support/action.ts';
import { useNamespaces } from './support/namespaces.ts';

const namespace = useNamespaces();

async function secretValue(ns: string, name: string, key: string): Promise<string> {
  const s = await kubectlJson<{ data: Record<string, string> }>(['get', 'secret', name, '-n', ns]);
  return Buffer.from(s.data[key] ?? '', 'base64').toString('utf8');
}

describe('set-secret (helm route)', () => {
  it('sets a chart value from a 0600 values file: the value is applied and appears nowhere else', async () => {
    const ns = await namespace('set-secret');
    const license = `E2E-LIC-${randomBytes(8).toString('hex').toUpperCase()}`;
    const password = `E2E-PW-${randomBytes(8).toString('hex')}`;
    await installFixture(ns, { helmMajor: 3, licenseKey: license });
    const before = await secretValue(ns, 'mdcore-cred', 'password');
    expect(before).not.toBe(password);

    const run = await runAction(
      {
        namespace: ns,
        tag: '5.20.0',
        method: 'helm',
        'license-key': license,
        'set-secret': `# the web UI admin password\nmdcore_password=${password}\n`,
      },
      { helmMajor: 3 },
    );
    expect(run.outcome.error).toBeUndefined();
    expect(run.outcome.result).toBe('upgraded');
    expect(await secretValue(ns, 'mdcore-cred', 'password')).toBe(password);

    // The helm command lines (the dry run at debug level, the upgrade announced): a values file, no value. A
    // value on the command line would show its key here even when masked.
    const helmLines = run.reporter.lines.filter(
      (l) => l.text.startsWith('$ ') && l.text.includes(' upgrade '),
    );
    expect(helmLines.length).toBeGreaterThanOrEqual(2);
    for (const l of helmLines) {
      expect(l.text).not.toContain('mdcore_password');
      expect(l.text).toMatch(/ -f \S*helm-secret-\S*\/secret-values\.yaml/);
    }
    expect(run.everything).not.toContain(password);
    expect(run.everything).not.toContain(Buffer.from(password).toString('base64'));
    // The change of the admin password Secret is listed, its value never shown.
    expect(run.outcome.helm?.changes.join('\n')).toContain('Secret/mdcore-cred');
  });
});
