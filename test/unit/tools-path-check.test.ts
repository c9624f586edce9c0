// A kubectl or helm found on PATH is checked against the official checksum from the same source as downloads.
// Stand-in binaries are shell scripts that print the version; the mirror is the loopback one of the
// integration tests, serving them in the official layouts.
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseInputs } from '../../src/plan/inputs.ts';
import { MemoryReporter } from '../../src/report/reporter.ts';
import { installHelm, installKubectl } from '../../src/tools/install.ts';
import { toolPlatform } from '../../src/tools/platform.ts';
import {
  helmArchiveName,
  helmChecksumName,
  kubectlBinaryPath,
  kubectlChecksumPath,
} from '../../src/tools/sources.ts';
import { deadPort, helmArchive, sha256, startMirror, type Mirror } from '../integration/tools-mirror.ts';

const p = toolPlatform(process.platform, process.arch);
const KUBECTL = '1.36.3';
const HELM = '3.22.0';
const FAST = { attempts: 3, delayMs: 10, timeoutMs: 2000 };
const kubectlScript = (extra = ''): string =>
  `#!/bin/sh\n${extra}echo '{"clientVersion":{"gitVersion":"v${KUBECTL}"}}'\n`;
const helmScript = (extra = ''): string => `#!/bin/sh\n${extra}printf 'v${HELM}'\n`;

let work = '';
let bin = '';
let mirror: Mirror;
let reporter: MemoryReporter;
const saved: Record<string, string | undefined> = {};

async function script(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  await chmod(file, 0o755);
  return file;
}

/** The official layout for the two stand-ins: kubectl's own checksum, helm's archive and its checksum. */
async function official(): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const k = Buffer.from(kubectlScript());
  files.set(kubectlBinaryPath(KUBECTL, p), k);
  files.set(kubectlChecksumPath(KUBECTL, p), Buffer.from(`${sha256(k)}\n`));
  const staging = await mkdtemp(path.join(tmpdir(), 'helm-standin-'));
  try {
    const archive = await helmArchive(await script(staging, 'helm', helmScript()), p);
    files.set(helmArchiveName(HELM, p), archive);
    files.set(helmChecksumName(HELM, p), Buffer.from(`${sha256(archive)}  ${helmArchiveName(HELM, p)}\n`));
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return files;
}

let layout: Map<string, Buffer>;
beforeAll(async () => {
  layout = await official();
  mirror = await startMirror(new Map(layout));
});
afterAll(async () => {
  await mirror?.close();
});

beforeEach(async () => {
  for (const k of ['RUNNER_TOOL_CACHE', 'RUNNER_TEMP', 'http_proxy', 'HTTP_PROXY']) saved[k] = process.env[k];
  delete process.env['http_proxy'];
  delete process.env['HTTP_PROXY'];
  work = await mkdtemp(path.join(tmpdir(), 'tools-path-check-'));
  bin = path.join(work, 'bin');
  await mkdir(bin);
  process.env['RUNNER_TOOL_CACHE'] = path.join(work, 'cache');
  process.env['RUNNER_TEMP'] = path.join(work, 'temp');
  await mkdir(process.env['RUNNER_TEMP']);
  mirror.reset(new Map(layout));
  reporter = new MemoryReporter();
});
afterEach(async () => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await rm(work, { recursive: true, force: true });
});

describe('kubectl on PATH', () => {
  it('is used when its SHA-256 is the published one, after one checksum look-up', async () => {
    await script(bin, 'kubectl', kubectlScript());
    const got = await installKubectl({
      version: KUBECTL,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got).toEqual({ path: path.join(bin, 'kubectl'), version: KUBECTL, source: 'path' });
    expect(mirror.requests.map((r) => r.path)).toEqual([kubectlChecksumPath(KUBECTL, p)]);
    expect(reporter.text()).toContain('SHA-256 matches the official build');
  });

  it('is not used when it is another build: the official one is downloaded, verified and cached', async () => {
    await script(bin, 'kubectl', kubectlScript('# patched\n'));
    const got = await installKubectl({
      version: KUBECTL,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got.source).toBe('download');
    expect(got.path).not.toBe(path.join(bin, 'kubectl'));
    expect(reporter.text()).toMatch(
      /warning: kubectl on PATH not used: kubectl 1\.36\.3 on PATH .* is not the official build/,
    );
  });

  it('is used but reported unverified when the checksum cannot be had (source unreachable)', async () => {
    await script(bin, 'kubectl', kubectlScript('# distro build\n'));
    const dead = `http://127.0.0.1:${await deadPort()}/mirror/`;
    const got = await installKubectl({
      version: KUBECTL,
      mirror: dead,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got.path).toBe(path.join(bin, 'kubectl'));
    expect(got.source).toBe('path');
    expect(got.unverified).toMatch(/official checksum could not be had/);
    expect(reporter.text()).toContain('kubectl used unverified');
    expect(reporter.text()).toContain('from PATH UNVERIFIED');
  });

  it('is used but reported unverified when the source does not publish the checksum (404, no retry)', async () => {
    await script(bin, 'kubectl', kubectlScript());
    mirror.fail(kubectlChecksumPath(KUBECTL, p), 404);
    const got = await installKubectl({
      version: KUBECTL,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got.unverified).toContain('HTTP 404');
    expect(mirror.count(kubectlChecksumPath(KUBECTL, p))).toBe(1);
  });

  it('never repeats mirror credentials in the unverified reason', async () => {
    await script(bin, 'kubectl', kubectlScript());
    mirror.requireAuthorization('Basic nope');
    const withCreds = mirror.url.replace('http://', 'http://robot:TOKEN-9f8e@');
    const got = await installKubectl({
      version: KUBECTL,
      mirror: withCreds,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got.unverified).toContain('HTTP 401');
    expect(`${got.unverified ?? ''}\n${reporter.text()}`).not.toContain('TOKEN-9f8e');
  });
});

describe('helm on PATH', () => {
  it('is used when it is the binary of the published archive', async () => {
    await script(bin, 'helm', helmScript());
    const got = await installHelm({
      version: HELM,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got).toEqual({ path: path.join(bin, 'helm'), version: HELM, source: 'path' });
    expect(mirror.requests.map((r) => r.path).sort()).toEqual(
      [helmArchiveName(HELM, p), helmChecksumName(HELM, p)].sort(),
    );
  });

  it('is not used when it differs from the archive content', async () => {
    await script(bin, 'helm', helmScript('# rebuilt\n'));
    const got = await installHelm({
      version: HELM,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got.source).toBe('download');
    expect(reporter.text()).toContain('is not the official build');
  });

  it('is used unverified when the archive is not published there', async () => {
    await script(bin, 'helm', helmScript());
    mirror.fail(helmChecksumName(HELM, p), 404);
    const got = await installHelm({
      version: HELM,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
    });
    expect(got.source).toBe('path');
    expect(got.unverified).toContain('HTTP 404');
  });
});

describe('path-tools', () => {
  it('trust: the PATH binary is used without any request and reported unverified', async () => {
    await script(bin, 'kubectl', kubectlScript('# local build\n'));
    const got = await installKubectl({
      version: KUBECTL,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
      pathTools: 'trust',
    });
    expect(got).toMatchObject({ path: path.join(bin, 'kubectl'), source: 'path' });
    expect(got.unverified).toContain("path-tools is 'trust'");
    expect(mirror.requests).toEqual([]);
  });

  it('ignore: the PATH binary is never used, even the official one', async () => {
    await script(bin, 'kubectl', kubectlScript());
    const got = await installKubectl({
      version: KUBECTL,
      mirror: mirror.url,
      reporter,
      searchPath: bin,
      retry: FAST,
      pathTools: 'ignore',
    });
    expect(got.source).toBe('download');
    expect(got.unverified).toBeUndefined();
  });

  it('is an input with verify as default', () => {
    const res = parseInputs({ namespace: 'mdcore', tag: '5.21.0' });
    expect(res.ok && res.plan.pathTools).toBe('verify');
    const bad = parseInputs({ namespace: 'mdcore', tag: '5.21.0', 'path-tools': 'yes' });
    expect(bad.ok ? '' : bad.errors.map((e) => e.message).join()).toContain('verify, trust, ignore');
  });
});
