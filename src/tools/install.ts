// Installs kubectl and helm the way a careful setup action does:
//   1. resolve the requested version (pinned default, exact, or a release pointer: see versions.ts);
//   2. use the binary on PATH when it reports exactly that version and its SHA-256 is the official build's
//      (checksum from the same source as downloads); a different build is not used; when the checksum cannot be
//      had (offline, mirror without it), the binary is used and reported as unverified (path-tools: 'trust'
//      skips the check, 'ignore' skips PATH);
//   3. else use the runner's tool cache (RUNNER_TOOL_CACHE, per tool, version and architecture), no request made;
//   4. else download from the official host or the tools-mirror (layout in sources.ts), verify the SHA-256
//      against the published checksum and check the binary reports the version, and only then cache it.
// Every request honours https_proxy / http_proxy / no_proxy. Look-ups retry per RetryPolicy; downloads use
// @actions/tool-cache's bounded retries (3 attempts, network errors, 5xx, 408 and 429 only).
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as tc from '@actions/tool-cache';
import type { Reporter } from '../report/reporter.ts';
import { runTool } from './exec.ts';
import { findOnPath, sha256File } from './files.ts';
import { DEFAULT_LOOKUP_RETRY, fetchText, LookupError, type RetryPolicy } from './lookup.ts';
import { toolPlatform, type ToolPlatform } from './platform.ts';
import {
  helmArchiveName,
  helmBinaryInArchive,
  helmChecksumName,
  helmPointerPath,
  kubectlBinaryPath,
  kubectlChecksumPath,
  kubectlPointerPath,
  OFFICIAL_HELM_BASE,
  OFFICIAL_KUBECTL_BASE,
  parseMirror,
  parseSha256File,
  redactUrl,
  under,
  type DownloadBase,
} from './sources.ts';
import {
  DEFAULT_HELM_MAJOR,
  parseHelmVersionOutput,
  parseHelmVersionSpec,
  parseKubectlClientVersion,
  parseKubectlVersionSpec,
  parseReleasePointer,
} from './versions.ts';

export type InstallSource = 'path' | 'cache' | 'download';

export interface InstalledTool {
  /** The binary itself (not its directory). */
  path: string;
  /** The exact version, without a leading 'v'. */
  version: string;
  source: InstallSource;
  /** Why a binary from PATH could not be checked against the official checksum; absent when it was verified. */
  unverified?: string;
}

export interface InstallOptions {
  /** The kubectl-version / helm-version input; empty or undefined means the pinned default. */
  version?: string;
  /** The tools-mirror input: a base URL replacing both official hosts, same layout below it. */
  mirror?: string;
  /** The allow-insecure-http input: plain http:// to a mirror that is neither loopback nor cluster-internal. */
  allowInsecureHttp?: boolean;
  /** The path-tools input: what a binary of the right version on PATH gets (default 'verify'). */
  pathTools?: 'verify' | 'trust' | 'ignore';
  reporter: Reporter;
  /** Look-up retry policy (release pointers, checksum files); defaults to DEFAULT_LOOKUP_RETRY. */
  retry?: Partial<RetryPolicy>;
  /** Searched for an existing binary; defaults to the PATH environment variable. */
  searchPath?: string;
}

/** How many attempts @actions/tool-cache's downloadTool makes on retryable failures. */
export const DOWNLOAD_ATTEMPTS = 3;

interface Context {
  reporter: Reporter;
  platform: ToolPlatform;
  base: DownloadBase;
  retry: RetryPolicy;
  searchPath: string | undefined;
  pathTools: 'verify' | 'trust' | 'ignore';
}

interface ToolJob {
  tool: 'kubectl' | 'helm';
  version: string;
  binaryName: string;
  versionArgs: string[];
  parseVersion: (stdout: string) => string | undefined;
  /** Downloads and verifies into tmp; returns the binary to cache. */
  fetch: (tmp: string) => Promise<string>;
  /** The SHA-256 the official binary of this version has (for a binary found on PATH). */
  officialSha256: (tmp: string) => Promise<string>;
}

/** A binary on PATH compared with the official build: the same, another build, or no checksum to be had. */
type PathCheck =
  { kind: 'verified' } | { kind: 'different'; actual: string } | { kind: 'unknown'; why: string };

/** Fewer and shorter look-ups than an install: a PATH binary that cannot be checked is still usable. */
const PATH_CHECK_ATTEMPTS = 2;
const PATH_CHECK_TIMEOUT_MS = 10_000;

/** The context for the PATH check's look-ups. */
function quick(ctx: Context): Context {
  return {
    ...ctx,
    retry: {
      ...ctx.retry,
      attempts: Math.min(ctx.retry.attempts, PATH_CHECK_ATTEMPTS),
      timeoutMs: Math.min(ctx.retry.timeoutMs, PATH_CHECK_TIMEOUT_MS),
    },
  };
}

function context(options: InstallOptions, officialBase: string): Context {
  const mirror = parseMirror(options.mirror, { allowInsecureHttp: options.allowInsecureHttp ?? false });
  if (mirror?.secret) options.reporter.secret(mirror.secret);
  return {
    reporter: options.reporter,
    platform: toolPlatform(process.platform, process.arch),
    base: mirror ?? { url: officialBase },
    retry: { ...DEFAULT_LOOKUP_RETRY, ...options.retry },
    searchPath: options.searchPath ?? process.env['PATH'],
    pathTools: options.pathTools ?? 'verify',
  };
}

async function lookup(ctx: Context, url: string, what: string, notFound: string): Promise<string> {
  try {
    return await fetchText(url, {
      reporter: ctx.reporter,
      what,
      retry: ctx.retry,
      ...(ctx.base.authorization ? { authorization: ctx.base.authorization } : {}),
    });
  } catch (err) {
    if (err instanceof LookupError && err.status === 404)
      throw new Error(`${err.message}: ${notFound}`, { cause: err });
    throw err;
  }
}

export async function installKubectl(options: InstallOptions): Promise<InstalledTool> {
  const ctx = context(options, OFFICIAL_KUBECTL_BASE);
  const { platform: p, base, reporter } = ctx;
  const spec = parseKubectlVersionSpec(options.version);
  let version: string;
  if (spec.kind === 'exact') {
    version = spec.version;
  } else {
    const url = under(base.url, kubectlPointerPath(spec));
    const asked = options.version?.trim() ?? '';
    const line =
      spec.kind === 'stable' ? 'stable release pointer' : `${spec.major}.${spec.minor} release line`;
    const body = await lookup(ctx, url, `kubectl-version '${asked}'`, `no ${line} is published there`);
    version = parseReleasePointer(
      body,
      spec.kind === 'stable' ? { major: 1 } : { major: spec.major, minor: spec.minor },
      redactUrl(url),
    );
    reporter.info(`kubectl-version '${asked}' resolved to ${version} (${redactUrl(url)})`);
  }
  const binaryName = `kubectl${p.exe}`;
  return install(ctx, {
    tool: 'kubectl',
    version,
    binaryName,
    versionArgs: ['version', '--client', '-o', 'json'],
    parseVersion: parseKubectlClientVersion,
    fetch: async (tmp) => {
      const url = under(base.url, kubectlBinaryPath(version, p));
      const sumUrl = under(base.url, kubectlChecksumPath(version, p));
      const what = `kubectl ${version} (${p.os}/${p.arch})`;
      const sums = await lookup(ctx, sumUrl, `${what} checksum`, `kubectl ${version} is not published there`);
      const expected = parseSha256File(sums, binaryName);
      const file = await download(ctx, url, path.join(tmp, binaryName), what);
      await verifySha256(file, expected, url, what);
      return file;
    },
    // kubectl publishes the checksum of the binary itself: one small look-up.
    officialSha256: async () => {
      const sumUrl = under(base.url, kubectlChecksumPath(version, p));
      const what = `kubectl ${version} (${p.os}/${p.arch})`;
      const sums = await lookup(
        quick(ctx),
        sumUrl,
        `${what} checksum`,
        `kubectl ${version} is not published there`,
      );
      return parseSha256File(sums, binaryName);
    },
  });
}

export async function installHelm(options: InstallOptions): Promise<InstalledTool> {
  const ctx = context(options, OFFICIAL_HELM_BASE);
  const { platform: p, base, reporter } = ctx;
  const spec = parseHelmVersionSpec(options.version);
  let version: string;
  if (spec.kind === 'exact') {
    version = spec.version;
  } else {
    const url = under(base.url, helmPointerPath(spec.major));
    const asked = options.version?.trim() ?? '';
    const body = await lookup(
      ctx,
      url,
      `helm-version '${asked}'`,
      `no Helm ${spec.major} release line is published there`,
    );
    version = parseReleasePointer(body, { major: spec.major }, redactUrl(url));
    const note =
      asked.toLowerCase() === 'latest'
        ? `; 'latest' follows Helm ${DEFAULT_HELM_MAJOR} and never switches majors (set helm-version: 4 for Helm 4)`
        : '';
    reporter.info(`helm-version '${asked}' resolved to ${version} (${redactUrl(url)})${note}`);
  }
  const binaryName = `helm${p.exe}`;
  const fetchHelm = async (tmp: string, c: Context = ctx): Promise<string> => {
    const archive = helmArchiveName(version, p);
    const url = under(base.url, archive);
    const sumUrl = under(base.url, helmChecksumName(version, p));
    const what = `helm ${version} (${p.os}/${p.arch})`;
    const sums = await lookup(c, sumUrl, `${what} checksum`, `helm ${version} is not published there`);
    const expected = parseSha256File(sums, archive);
    const file = await download(c, url, path.join(tmp, archive), what);
    await verifySha256(file, expected, url, what);
    const dest = path.join(tmp, 'extracted');
    if (p.os === 'windows') await tc.extractZip(file, dest);
    else await tc.extractTar(file, dest);
    const inner = helmBinaryInArchive(p);
    const bin = path.join(dest, ...inner.split('/'));
    if (!existsSync(bin)) throw new Error(`${what}: ${redactUrl(url)} has no ${inner} inside`);
    return bin;
  };
  return install(ctx, {
    tool: 'helm',
    version,
    binaryName,
    versionArgs: ['version', '--template', '{{.Version}}'],
    parseVersion: parseHelmVersionOutput,
    fetch: (tmp) => fetchHelm(tmp),
    // Helm publishes the checksum of the archive only: the binary's is that of the verified archive's content.
    officialSha256: async (tmp) => sha256File(await fetchHelm(tmp, quick(ctx))),
  });
}

async function install(ctx: Context, job: ToolJob): Promise<InstalledTool> {
  const { reporter } = ctx;
  const { tool, version, binaryName } = job;

  const onPath = ctx.pathTools === 'ignore' ? undefined : await findOnPath(binaryName, ctx.searchPath);
  if (onPath !== undefined) {
    const reported = await reportedVersion(ctx, onPath, job);
    if (reported === version && ctx.pathTools === 'trust') {
      const why = "path-tools is 'trust': no checksum was checked";
      reporter.warning(
        `${tool} ${version}: using ${onPath} from PATH UNVERIFIED (${why})`,
        `${tool} used unverified`,
      );
      return { path: onPath, version, source: 'path', unverified: why };
    }
    if (reported === version) {
      const check = await checkPathBinary(ctx, job, onPath);
      if (check.kind === 'verified') {
        reporter.info(`${tool} ${version}: using ${onPath} from PATH (SHA-256 matches the official build)`);
        return { path: onPath, version, source: 'path' };
      }
      if (check.kind === 'unknown') {
        reporter.warning(
          `${tool} ${version}: using ${onPath} from PATH UNVERIFIED: ${check.why}. Put the official binary on PATH where its checksum can be fetched, or remove it from PATH so the action downloads and verifies one.`,
          `${tool} used unverified`,
        );
        return { path: onPath, version, source: 'path', unverified: check.why };
      }
      reporter.warning(
        `${tool} ${version} on PATH (${onPath}) is not the official build (SHA-256 ${check.actual}); it is not used, the official binary is installed instead`,
        `${tool} on PATH not used`,
      );
    } else {
      reporter.info(
        `${tool} on PATH (${onPath}) reports ${reported ?? 'no readable version'}, not ${version}`,
      );
    }
  }

  for (const name of ['RUNNER_TOOL_CACHE', 'RUNNER_TEMP']) {
    if (!process.env[name])
      throw new Error(`${tool}: ${name} is not set (GitHub runners set it; set it when run elsewhere)`);
  }
  const cacheArch = process.arch;
  const cachedDir = tc.find(tool, version, cacheArch);
  if (cachedDir !== '') {
    const bin = path.join(cachedDir, binaryName);
    if (existsSync(bin)) {
      reporter.info(`${tool} ${version}: using the cached copy ${bin}`);
      return { path: bin, version, source: 'cache' };
    }
    reporter.warning(
      `${tool} ${version}: the cache entry ${cachedDir} has no ${binaryName}; downloading again`,
    );
  }

  const tmp = await mkdtemp(path.join(process.env['RUNNER_TEMP'] ?? '', `mdcore-${tool}-`));
  try {
    const bin = await job.fetch(tmp);
    await chmod(bin, 0o755);
    const reported = await reportedVersion(ctx, bin, job);
    if (reported !== version) {
      throw new Error(
        `${tool}: the downloaded binary reports ${reported ?? 'no readable version'}, not ${version}; nothing was cached`,
      );
    }
    const dir = await tc.cacheFile(bin, binaryName, tool, version, cacheArch);
    const cached = path.join(dir, binaryName);
    reporter.info(`${tool} ${version}: downloaded, SHA-256 verified, cached at ${cached}`);
    return { path: cached, version, source: 'download' };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function checkPathBinary(ctx: Context, job: ToolJob, bin: string): Promise<PathCheck> {
  let tmp: string | undefined;
  try {
    tmp = await mkdtemp(path.join(process.env['RUNNER_TEMP'] || tmpdir(), `mdcore-${job.tool}-check-`));
    const [expected, actual] = await Promise.all([job.officialSha256(tmp), sha256File(bin)]);
    return expected === actual ? { kind: 'verified' } : { kind: 'different', actual };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return { kind: 'unknown', why: `its official checksum could not be had (${ctx.reporter.mask(why)})` };
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

async function reportedVersion(ctx: Context, bin: string, job: ToolJob): Promise<string | undefined> {
  try {
    const res = await runTool(ctx.reporter, bin, job.versionArgs, { allowFailure: true });
    return res.exitCode === 0 ? job.parseVersion(res.stdout) : undefined;
  } catch (err) {
    ctx.reporter.debug(`${bin} could not be run: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

async function download(ctx: Context, url: string, dest: string, what: string): Promise<string> {
  const shown = redactUrl(url);
  ctx.reporter.info(`${what}: downloading ${shown}`);
  try {
    return await tc.downloadTool(url, dest, ctx.base.authorization);
  } catch (err) {
    const status = err instanceof tc.HTTPError ? err.httpStatusCode : undefined;
    const final = status !== undefined && status < 500 && status !== 408 && status !== 429;
    const detail = status !== undefined ? `HTTP ${status}` : err instanceof Error ? err.message : String(err);
    throw new Error(
      `${what}: download of ${shown} failed (${detail}${final ? '' : `, after ${DOWNLOAD_ATTEMPTS} attempts`})`,
      { cause: err },
    );
  }
}

async function verifySha256(file: string, expected: string, url: string, what: string): Promise<void> {
  const actual = await sha256File(file);
  if (actual !== expected) {
    throw new Error(
      `${what}: SHA-256 of ${redactUrl(url)} is ${actual}, but the published checksum is ${expected}; ` +
        `nothing was cached`,
    );
  }
}
