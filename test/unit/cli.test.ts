// The command line: --help lists every action input with action.yml's description; --output json prints the
// outcome as one JSON document on stdout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderInputDescriptions, TARGET } from '../../scripts/input-descriptions.ts';
import { main, parseArgs, usage, type CliIo } from '../../src/cli.ts';

const actionYml = readFileSync('action.yml', 'utf8');
const inputs = (parse(actionYml) as { inputs: Record<string, { description: string }> }).inputs;
const flat = (t: string): string => t.replace(/\s+/g, ' ');

function io(env: NodeJS.ProcessEnv = {}): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, env, stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) };
}

describe('--help', () => {
  it('the descriptions module is generated from action.yml (run: node scripts/input-descriptions.ts --write)', () => {
    expect(readFileSync(TARGET, 'utf8')).toBe(renderInputDescriptions(actionYml));
  });

  it('lists every action input as a flag with its action.yml description', () => {
    const help = flat(usage());
    expect(Object.keys(inputs).length).toBeGreaterThan(30);
    for (const [name, input] of Object.entries(inputs)) {
      expect(help, name).toContain(`--${name} ${flat(input.description).trim()}`);
    }
    expect(help).toContain('--output text|json');
    expect(help).toContain('Or set MDCORE_API_KEY.');
    for (const line of usage().split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });

  it('main --help prints the help on stdout and exits 0', async () => {
    const x = io();
    expect(await main(['--help'], x)).toBe(0);
    expect(x.out.join('')).toBe(usage());
  });

  it('works without an action.yml in reach (the CLI does not read it at run time)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'cli-help-'));
    try {
      const res = spawnSync(process.execPath, [resolve('src/cli.ts'), '--help'], {
        cwd,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(res.stderr).toBe('');
      expect(res.status).toBe(0);
      expect(flat(res.stdout)).toContain(`--namespace ${inputs['namespace']?.description}`);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});

describe('--output', () => {
  it('parses text and json, and refuses anything else', () => {
    expect(parseArgs(['--output', 'json', '--tag', '1']).output).toBe('json');
    expect(parseArgs(['--output=text']).output).toBe('text');
    expect(parseArgs(['--tag', '1']).output).toBe('text');
    expect(parseArgs(['--output', 'xml']).errors).toEqual(['--output must be text or json, not "xml"']);
    expect(parseArgs(['--output', 'json']).inputs).toEqual({});
  });

  it('invalid inputs: exit 2 and a JSON document on stdout', async () => {
    const x = io();
    expect(await main(['--namespace', 'Not_Valid', '--output', 'json'], x)).toBe(2);
    const doc = JSON.parse(x.out.join('')) as { result: string; ok: boolean; error: string };
    expect(doc.result).toBe('invalid-arguments');
    expect(doc.ok).toBe(false);
    expect(doc.error).toContain("input 'namespace'");
    expect(x.err.join('')).toContain('ERROR');
  });

  it('a failed run: only JSON on stdout (the outcome), progress on stderr, secrets masked', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    await new Promise<void>((r) => server.close(() => r()));
    const token = 'cli-json-test-token-0123456789';
    const kubeconfig = JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: `https://127.0.0.1:${port}` } }],
      users: [{ name: 'u', user: { token } }],
      contexts: [{ name: 'cli', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'cli',
    });
    const x = io({ MDCORE_KUBECONFIG: kubeconfig });
    const code = await main(['--namespace', 'mdcore', '--tag', '5.20.0', '--output', 'json'], x);
    expect(code).toBe(1);
    const stdout = x.out.join('');
    const doc = JSON.parse(stdout) as {
      version: number;
      result: string;
      ok: boolean;
      error: string;
      outputs: Record<string, string>;
      target: Record<string, unknown>;
      steps: { id: string; status: string }[];
    };
    expect(doc.version).toBe(1);
    expect(doc.result).toBe('failed');
    expect(doc.ok).toBe(false);
    expect(doc.error).toContain(`cannot reach the Kubernetes API server https://127.0.0.1:${port}`);
    expect(doc.outputs['result']).toBe('failed');
    expect(doc.target).toMatchObject({ namespace: 'mdcore', tag: '5.20.0', deployment: 'md-core' });
    expect(doc.steps[0]).toMatchObject({ id: 'connect', status: 'failed' });
    expect(stdout).not.toContain(token);
    expect(stdout).not.toContain('current-context');
    expect(x.err.join('')).toContain('Connect to the cluster');
  });
});
