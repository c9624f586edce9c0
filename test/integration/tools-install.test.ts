// installKubectl / installHelm against a mirror on 127.0.0.1 serving real binaries in the official layouts.
import { execFileSync } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tc from '@actions/tool-cache';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryReporter } from '../../src/report/reporter.ts';
import { installHelm, installKubectl, type InstalledTool } from '../../src/tools/install.ts';
import { toolPlatform } from '../../src/tools/platform.ts';
import {
  helmArchiveName,
  helmChecksumName,
  kubectlBinaryPath,
  kubectlChecksumPath,
} from '../../src/tools/sources.ts';
import {
  clusterTools,
  deadPort,
  HELM3_VERSION,
  HELM4_VERSION,
  helmArchive,
  KUBECTL_VERSION,
  officialLayout,
  sha256,
  startFakeProxy,
  startMirror,
  type ClusterTools,
  type Mirror,
} from './tools-mirror.ts';

const p = toolPlatform(process.platform, process.arch);
const KUBECTL_BIN = kubectlBinaryPath(KUBECTL_VERSION, p);
const KUBECTL_SUM = kubectlChecksumPath(KUBECTL_VERSION, p);
const HELM3_TGZ = helmArchiveName(HELM3_VERSION, p);
const HELM3_SUM = helmChecksumName(HELM3_VERSION, p);
const HELM4_TGZ = helmArchiveName(HELM4_VERSION, p);
const HELM4_SUM = helmChecksumName(HELM4_VERSION, p);
/** Short pauses for look-up retries; the policy itself is what is under test, not its default timing. */
const FAST_RETRY = { attempts: 3, delayMs: 50, timeoutMs: 5000 };
const ENV_KEYS = [
  'RUNNER_TOOL_CACHE',
  'RUNNER_TEMP',
  'PATH',
  'http_proxy',
  'HTTP_PROXY',
  'no_proxy',
  'NO_PROXY',
];

let tools: ClusterTools;
let layout: Map<string, Buffer>;
let mirror: Mirror;
let work = '';
let emptyPath = '';
let savedEnv: Record<string, string | undefined> = {};
let reporter: MemoryReporter;

beforeAll(async () => {
  tools = await clusterTools();
  layout = await officialLayout(tools);
  mirror = await startMirror(new Map(layout));
});

afterAll(async () => {
  await mirror?.close();
});

beforeEach(async () => {
  savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
  for (const k of ['http_proxy', 'HTTP_PROXY', 'no_proxy', 'NO_PROXY']) delete process.env[k];
  work = await mkdtemp(path.join(tmpdir(), 'tools-install-'));
  process.env['RUNNER_TOOL_CACHE'] = path.join(work, 'toolcache');
  process.env['RUNNER_TEMP'] = path.join(work, 'temp');
  await mkdir(process.env['RUNNER_TEMP']);
  emptyPath = path.join(work, 'empty-path');
  await mkdir(emptyPath);
  // Every test starts from the full official layout, no failures, no authorization required.
  mirror.reset(layout);
  reporter = new MemoryReporter();
});

afterEach(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  await rm(work, { recursive: true, force: true });
});

function requested(): string[] {
  return mirror.requests.map((r) => r.path);
}

/** The version the installed binary itself reports. */
function runVersion(tool: InstalledTool, kind: 'kubectl' | 'helm'): string {
  const args =
    kind === 'kubectl' ? ['version', '--client', '-o', 'json'] : ['version', '--template', '{{.Version}}'];
  const out = execFileSync(tool.path, args, { encoding: 'utf8', timeout: 30_000 });
  return kind === 'kubectl'
    ? (JSON.parse(out) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion
    : out;
}

async function tempLeftovers(): Promise<string[]> {
  return readdir(process.env['RUNNER_TEMP'] ?? '');
}

describe('fresh install', () => {
  it('downloads kubectl, verifies it, caches it per version and arch', async () => {
    const got = await installKubectl({
      version: '1.36.3',
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
    });
    expect(got.source).toBe('download');
    expect(got.version).toBe('1.36.3');
    expect(got.path).toBe(path.join(work, 'toolcache', 'kubectl', '1.36.3', process.arch, 'kubectl'));
    expect(runVersion(got, 'kubectl')).toBe('v1.36.3');
    expect(sha256(await readFile(got.path))).toBe(sha256(layout.get(KUBECTL_BIN)!));
    expect(requested()).toEqual([KUBECTL_SUM, KUBECTL_BIN]);
    expect(await tempLeftovers()).toEqual([]);
  });

  it('takes v-prefixed exact versions as given', async () => {
    const got = await installKubectl({
      version: 'v1.36.3',
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
    });
    expect(got).toMatchObject({ version: '1.36.3', source: 'download' });
  });

  it('downloads helm (the pinned 3.22.0 by default) from its archive', async () => {
    const got = await installHelm({ mirror: mirror.url, reporter, searchPath: emptyPath });
    expect(got).toMatchObject({ version: HELM3_VERSION, source: 'download' });
    expect(got.path).toBe(path.join(work, 'toolcache', 'helm', HELM3_VERSION, process.arch, 'helm'));
    expect(runVersion(got, 'helm')).toBe(`v${HELM3_VERSION}`);
    expect(requested()).toEqual([HELM3_SUM, HELM3_TGZ]);
    expect(await tempLeftovers()).toEqual([]);
  });
});

describe('cache', () => {
  it('reuses the cached kubectl without any request', async () => {
    const first = await installKubectl({
      version: '1.36.3',
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
    });
    const before = mirror.requests.length;
    const second = await installKubectl({
      version: '1.36.3',
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
    });
    expect(second).toEqual({ ...first, source: 'cache' });
    expect(mirror.requests.length).toBe(before);
  });

  it('reuses the cached helm without any request, and keeps majors apart', async () => {
    await installHelm({ version: HELM3_VERSION, mirror: mirror.url, reporter, searchPath: emptyPath });
    const before = mirror.requests.length;
    const again = await installHelm({
      version: `v${HELM3_VERSION}`,
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
    });
    expect(again.source).toBe('cache');
    expect(mirror.requests.length).toBe(before);
    const four = await installHelm({
      version: HELM4_VERSION,
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
    });
    expect(four.source).toBe('download');
    expect(runVersion(four, 'helm')).toBe(`v${HELM4_VERSION}`);
  });
});

describe('verification', () => {
  it('kubectl checksum mismatch: clear error, nothing cached', async () => {
    mirror.files.set(KUBECTL_SUM, Buffer.from(`${sha256('something else')}\n`));
    await expect(
      installKubectl({ version: '1.36.3', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow(
      new RegExp(
        `SHA-256 of ${mirror.url}${KUBECTL_BIN} is ${sha256(layout.get(KUBECTL_BIN)!)}, but the published checksum is ${sha256('something else')}; nothing was cached`,
      ),
    );
    expect(tc.find('kubectl', '1.36.3', process.arch)).toBe('');
    expect(tc.findAllVersions('kubectl', process.arch)).toEqual([]);
    expect(await tempLeftovers()).toEqual([]);
  });

  it('helm archive that is not the published one: clear error, nothing cached', async () => {
    mirror.files.set(HELM3_TGZ, layout.get(HELM4_TGZ)!);
    await expect(
      installHelm({ version: HELM3_VERSION, mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow('but the published checksum is');
    expect(tc.find('helm', HELM3_VERSION, process.arch)).toBe('');
  });

  it('a binary reporting another version than its path says is refused, nothing cached', async () => {
    // kubectl 1.36.3 published (with a correct checksum) as if it were 1.36.4
    const bin = layout.get(KUBECTL_BIN)!;
    mirror.files.set(kubectlBinaryPath('1.36.4', p), bin);
    mirror.files.set(kubectlChecksumPath('1.36.4', p), Buffer.from(sha256(bin)));
    await expect(
      installKubectl({ version: '1.36.4', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow('kubectl: the downloaded binary reports 1.36.3, not 1.36.4; nothing was cached');
    expect(tc.find('kubectl', '1.36.4', process.arch)).toBe('');
  });

  it('a helm archive without <os>-<arch>/helm is refused', async () => {
    const wrongPlatform = await helmArchive(tools.helm3, {
      ...p,
      arch: p.arch === 'amd64' ? 'arm64' : 'amd64',
    });
    mirror.files.set(HELM3_TGZ, wrongPlatform);
    mirror.files.set(HELM3_SUM, Buffer.from(`${sha256(wrongPlatform)}  ${HELM3_TGZ}\n`));
    await expect(
      installHelm({ version: HELM3_VERSION, mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow(`has no ${p.os}-${p.arch}/helm inside`);
    expect(tc.find('helm', HELM3_VERSION, process.arch)).toBe('');
  });
});

describe('failures', () => {
  it('unknown kubectl version (404): clear error after one request', async () => {
    await expect(
      installKubectl({ version: '1.99.0', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow(
      `kubectl 1.99.0 (${p.os}/${p.arch}) checksum: ${mirror.url}${kubectlChecksumPath('1.99.0', p)} answered HTTP 404: kubectl 1.99.0 is not published there`,
    );
    expect(requested()).toEqual([kubectlChecksumPath('1.99.0', p)]);
  });

  it('unknown helm version (404): clear error after one request', async () => {
    await expect(
      installHelm({ version: '3.99.0', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow('answered HTTP 404: helm 3.99.0 is not published there');
    expect(requested()).toEqual([helmChecksumName('3.99.0', p)]);
  });

  it('mirror down (connection refused): bounded retries, then an error naming the URL', async () => {
    const port = await deadPort();
    const down = `http://127.0.0.1:${port}/mirror/`;
    const started = Date.now();
    await expect(
      installKubectl({ version: 'stable', mirror: down, reporter, searchPath: emptyPath, retry: FAST_RETRY }),
    ).rejects.toThrow(
      new RegExp(`kubectl-version 'stable': ${down}release/stable.txt failed 3 times, last: .*ECONNREFUSED`),
    );
    expect(Date.now() - started).toBeLessThan(5000);
    const retries = reporter.lines.filter(
      (l) => l.text.includes('failed (') && l.text.includes('retrying in'),
    );
    expect(retries.map((l) => l.text)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^kubectl-version 'stable': attempt 1/3 at ${down}release/stable.txt failed \\(.*ECONNREFUSED.*\\); retrying in 50 ms$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^kubectl-version 'stable': attempt 2/3 at ${down}release/stable.txt failed \\(.*ECONNREFUSED.*\\); retrying in 100 ms$`,
        ),
      ),
    ]);
  });

  it('mirror down for an exact version fails on the checksum, nothing cached', async () => {
    const down = `http://127.0.0.1:${await deadPort()}/mirror/`;
    await expect(
      installHelm({
        version: HELM3_VERSION,
        mirror: down,
        reporter,
        searchPath: emptyPath,
        retry: FAST_RETRY,
      }),
    ).rejects.toThrow(`${down}${HELM3_SUM} failed 3 times`);
    expect(tc.findAllVersions('helm', process.arch)).toEqual([]);
  });

  it('a look-up answering 503 is retried, and succeeds when the mirror recovers', async () => {
    mirror.fail('release/stable.txt', 503, 2);
    const got = await installKubectl({
      version: 'stable',
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
      retry: FAST_RETRY,
    });
    expect(got.version).toBe(KUBECTL_VERSION);
    expect(mirror.count('release/stable.txt')).toBe(3);
  });

  it(
    'a binary download answering 503 is retried by tool-cache a bounded number of times, then a clear error',
    async () => {
      mirror.fail(KUBECTL_BIN, 503);
      await expect(
        installKubectl({ version: '1.36.3', mirror: mirror.url, reporter, searchPath: emptyPath }),
      ).rejects.toThrow(
        `kubectl 1.36.3 (${p.os}/${p.arch}): download of ${mirror.url}${KUBECTL_BIN} failed (HTTP 503, after 3 attempts)`,
      );
      expect(mirror.count(KUBECTL_BIN)).toBe(3);
      expect(tc.findAllVersions('kubectl', process.arch)).toEqual([]);
      expect(await tempLeftovers()).toEqual([]);
    },
    90_000, // tool-cache waits 10-20 s between its attempts
  );
});

describe('kubectl version resolution', () => {
  it.each(['stable', 'latest'])('%s reads release/stable.txt', async (spec) => {
    const got = await installKubectl({ version: spec, mirror: mirror.url, reporter, searchPath: emptyPath });
    expect(got).toMatchObject({ version: KUBECTL_VERSION, source: 'download' });
    expect(requested()).toEqual(['release/stable.txt', KUBECTL_SUM, KUBECTL_BIN]);
    expect(reporter.text()).toContain(
      `kubectl-version '${spec}' resolved to 1.36.3 (${mirror.url}release/stable.txt)`,
    );
  });

  it('a minor version reads release/stable-1.xx.txt; the cached result needs only that look-up next time', async () => {
    await installKubectl({ version: '1.36', mirror: mirror.url, reporter, searchPath: emptyPath });
    expect(requested()).toEqual(['release/stable-1.36.txt', KUBECTL_SUM, KUBECTL_BIN]);
    const again = await installKubectl({
      version: 'v1.36',
      mirror: mirror.url,
      reporter,
      searchPath: emptyPath,
    });
    expect(again.source).toBe('cache');
    expect(requested().slice(3)).toEqual(['release/stable-1.36.txt']);
  });

  it('a pointer naming another minor is refused', async () => {
    mirror.files.set('release/stable-1.35.txt', Buffer.from('v1.36.3\n'));
    await expect(
      installKubectl({ version: '1.35', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow(
      `${mirror.url}release/stable-1.35.txt points to v1.36.3, outside the requested 1.35.x line`,
    );
  });

  it('a release line that is not published (404) is a clear error', async () => {
    await expect(
      installKubectl({ version: '1.99', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow(
      `kubectl-version '1.99': ${mirror.url}release/stable-1.99.txt answered HTTP 404: no 1.99 release line is published there`,
    );
  });
});

describe('helm version resolution', () => {
  it('3 and 4 read their own per-major pointer', async () => {
    const three = await installHelm({ version: '3', mirror: mirror.url, reporter, searchPath: emptyPath });
    const four = await installHelm({ version: '4', mirror: mirror.url, reporter, searchPath: emptyPath });
    expect([three.version, four.version]).toEqual([HELM3_VERSION, HELM4_VERSION]);
    expect(runVersion(four, 'helm')).toBe(`v${HELM4_VERSION}`);
    expect(requested()).toEqual([
      'helm3-latest-version',
      HELM3_SUM,
      HELM3_TGZ,
      'helm4-latest-version',
      HELM4_SUM,
      HELM4_TGZ,
    ]);
  });

  it('latest follows Helm 3 and says so', async () => {
    const got = await installHelm({ version: 'latest', mirror: mirror.url, reporter, searchPath: emptyPath });
    expect(got.version).toBe(HELM3_VERSION);
    expect(requested()[0]).toBe('helm3-latest-version');
    expect(reporter.text()).toContain("'latest' follows Helm 3 and never switches majors");
  });

  it('never jumps majors: a Helm 3 pointer naming 4.x is refused', async () => {
    mirror.files.set('helm3-latest-version', Buffer.from(`v${HELM4_VERSION}\n`));
    await expect(
      installHelm({ version: 'latest', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow(
      `points to v${HELM4_VERSION}, outside the requested 3.x line; refusing to switch to it`,
    );
    expect(tc.findAllVersions('helm', process.arch)).toEqual([]);
  });

  it('a major with no published line (404) is a clear error', async () => {
    await expect(
      installHelm({ version: '5', mirror: mirror.url, reporter, searchPath: emptyPath }),
    ).rejects.toThrow(
      `helm-version '5': ${mirror.url}helm5-latest-version answered HTTP 404: no Helm 5 release line is published there`,
    );
  });
});

describe('binary already on PATH', () => {
  it('kubectl on PATH reporting exactly the version is used when its SHA-256 is the published one', async () => {
    const dir = path.join(work, 'bin');
    await mkdir(dir);
    await copyFile(tools.kubectl, path.join(dir, 'kubectl'));
    const got = await installKubectl({
      version: '1.36.3',
      mirror: mirror.url,
      reporter,
      searchPath: `${emptyPath}${path.delimiter}${dir}`,
    });
    expect(got).toEqual({ path: path.join(dir, 'kubectl'), version: '1.36.3', source: 'path' });
    // One look-up of the published checksum; the binary itself is not downloaded.
    expect(requested()).toEqual([KUBECTL_SUM]);
  });

  it('the PATH environment variable is searched by default', async () => {
    const dir = path.join(work, 'bin');
    await mkdir(dir);
    await copyFile(tools.helm3, path.join(dir, 'helm'));
    process.env['PATH'] = `${dir}${path.delimiter}${process.env['PATH'] ?? ''}`;
    const got = await installHelm({ version: HELM3_VERSION, mirror: mirror.url, reporter });
    expect(got).toEqual({ path: path.join(dir, 'helm'), version: HELM3_VERSION, source: 'path' });
    // Helm publishes the archive's checksum only: the verified archive's binary is compared.
    expect(requested().sort()).toEqual([HELM3_SUM, HELM3_TGZ].sort());
  });

  it('a kubectl on PATH that is not the published build is not used: the verified download is', async () => {
    const dir = path.join(work, 'bin');
    await mkdir(dir);
    // The same program with bytes appended: it runs and reports 1.36.3, but it is not the published file.
    await copyFile(tools.kubectl, path.join(dir, 'kubectl'));
    await appendFile(path.join(dir, 'kubectl'), 'not the published build');
    const got = await installKubectl({ version: '1.36.3', mirror: mirror.url, reporter, searchPath: dir });
    expect(got.source).toBe('download');
    expect(runVersion(got, 'kubectl')).toBe('v1.36.3');
    expect(reporter.text()).toContain('is not the official build');
  });

  it('a kubectl on PATH is used but reported unverified when the mirror is unreachable', async () => {
    const dir = path.join(work, 'bin');
    await mkdir(dir);
    await copyFile(tools.kubectl, path.join(dir, 'kubectl'));
    const dead = `http://127.0.0.1:${await deadPort()}/`;
    const got = await installKubectl({
      version: '1.36.3',
      mirror: dead,
      reporter,
      searchPath: dir,
      retry: FAST_RETRY,
    });
    expect(got).toMatchObject({ path: path.join(dir, 'kubectl'), source: 'path' });
    expect(got.unverified).toContain('official checksum could not be had');
  });

  it('a binary on PATH with another version is not used', async () => {
    const dir = path.join(work, 'bin');
    await mkdir(dir);
    await copyFile(tools.helm4, path.join(dir, 'helm'));
    const got = await installHelm({ version: HELM3_VERSION, mirror: mirror.url, reporter, searchPath: dir });
    expect(got.source).toBe('download');
    expect(runVersion(got, 'helm')).toBe(`v${HELM3_VERSION}`);
    expect(reporter.text()).toContain(`reports ${HELM4_VERSION}, not ${HELM3_VERSION}`);
  });
});

describe('network settings', () => {
  it('http_proxy carries every request, version look-ups included', async () => {
    const proxy = await startFakeProxy(mirror.port);
    try {
      process.env['http_proxy'] = proxy.url;
      // A name that resolves nowhere: only the proxy can reach it (it tunnels to the local mirror).
      const viaProxy = 'http://tools-mirror.invalid/mirror/';
      const got = await installKubectl({
        version: 'stable',
        mirror: viaProxy,
        allowInsecureHttp: true,
        reporter,
        searchPath: emptyPath,
        retry: FAST_RETRY,
      });
      expect(got).toMatchObject({ version: KUBECTL_VERSION, source: 'download' });
      expect(requested()).toEqual(['release/stable.txt', KUBECTL_SUM, KUBECTL_BIN]);
      expect(proxy.connects).toEqual(Array(3).fill('tools-mirror.invalid:80'));
    } finally {
      await proxy.close();
    }
  });

  it('mirror credentials go in an Authorization header and are never printed', async () => {
    const token = 'tok3n-Secret-value';
    mirror.requireAuthorization(`Basic ${Buffer.from(`ci-user:${token}`).toString('base64')}`);
    const withCreds = mirror.url.replace('http://', `http://ci-user:${token}@`);
    const got = await installHelm({ version: '4', mirror: withCreds, reporter, searchPath: emptyPath });
    expect(got.version).toBe(HELM4_VERSION);
    expect(mirror.requests.map((r) => r.authorization?.startsWith('Basic '))).toEqual([true, true, true]);
    const failure = installKubectl({ version: '1.98.0', mirror: withCreds, reporter, searchPath: emptyPath });
    await expect(failure).rejects.toThrow(
      `${mirror.url}${kubectlChecksumPath('1.98.0', p)} answered HTTP 404`,
    );
    const message = await failure.catch((err: Error) => err.message);
    expect(message).not.toContain(token);
    expect(reporter.text()).toContain(mirror.url);
    expect(reporter.text()).not.toContain(token);
  });

  it('wrong mirror credentials: 401 is final, not retried', async () => {
    mirror.requireAuthorization('Basic nope');
    await expect(
      installKubectl({
        version: 'stable',
        mirror: mirror.url,
        reporter,
        searchPath: emptyPath,
        retry: FAST_RETRY,
      }),
    ).rejects.toThrow(`${mirror.url}release/stable.txt answered HTTP 401`);
    expect(mirror.requests.length).toBe(1);
  });
});
