// Where kubectl and helm come from: the official hosts or one mirror (the tools-mirror input) that replaces both
// and keeps their layouts below its base URL:
//
//   <base>/release/stable.txt                                  kubectl-version stable / latest
//   <base>/release/stable-1.34.txt                             kubectl-version 1.34
//   <base>/release/v1.36.3/bin/linux/amd64/kubectl             the binary (kubectl.exe on windows)
//   <base>/release/v1.36.3/bin/linux/amd64/kubectl.sha256      its SHA-256, hex
//   <base>/helm3-latest-version                                helm-version 3 and latest (helm4-… for 4)
//   <base>/helm-v3.22.0-linux-amd64.tar.gz                     the archive, binary at linux-amd64/helm
//   <base>/helm-v3.22.0-linux-amd64.tar.gz.sha256sum           '<hex>  <archive name>'
//   <base>/helm-v3.22.0-windows-amd64.zip(.sha256sum)          windows: zip, binary at windows-amd64/helm.exe
//
// OS is linux, darwin or windows; architecture amd64 or arm64. The base may carry a path prefix and
// credentials (https://user:token@host/prefix/): credentials are sent as a Basic authorization header and never
// appear in any URL that is printed.
import { insecureHttpProblem } from '../plan/url-policy.ts';
import type { ToolPlatform } from './platform.ts';
import type { KubectlVersionSpec } from './versions.ts';

export const OFFICIAL_KUBECTL_BASE = 'https://dl.k8s.io/';
export const OFFICIAL_HELM_BASE = 'https://get.helm.sh/';

export interface DownloadBase {
  /** Base URL without credentials, ending in '/'. */
  url: string;
  /** 'Basic …' when the mirror URL carried credentials. */
  authorization?: string;
  /** The password or token from the mirror URL, for the reporter to mask. */
  secret?: string;
}

/**
 * Parses the tools-mirror input; undefined when it is empty (use the official hosts). Plain http:// is refused
 * beyond loopback and cluster-internal hosts unless allowed (input parsing refuses it first; this keeps every
 * other caller of the installer to the same rule).
 */
export function parseMirror(
  input: string | undefined,
  options: { allowInsecureHttp?: boolean } = {},
): DownloadBase | undefined {
  const raw = (input ?? '').trim();
  if (raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The text is not echoed: it may hold credentials.
    throw new Error(
      'tools-mirror is not an absolute URL (expected e.g. https://mirror.example.com/k8s-tools/)',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new Error(`tools-mirror must be an http(s) URL, not ${url.protocol}`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new Error(`tools-mirror must not have a query or fragment: ${redactUrl(raw)}`);
  }
  const insecure = insecureHttpProblem('tools-mirror', raw, options.allowInsecureHttp ?? false);
  if (insecure) throw new Error(insecure);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  if (!url.pathname.endsWith('/')) url.pathname = `${url.pathname}/`;
  const base: DownloadBase = { url: url.href };
  if (user !== '' || password !== '') {
    base.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    if (password !== '') base.secret = password;
    else base.secret = user;
  }
  return base;
}

/** Removes credentials (user:password@) from a URL for printing. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, '$1');
}

/** A path below a base URL ending in '/'; the path is relative (no leading '/'). */
export function under(base: string, relativePath: string): string {
  if (relativePath.startsWith('/')) throw new Error(`internal: '${relativePath}' must be relative`);
  return new URL(relativePath, base).href;
}

// --- kubectl (dl.k8s.io layout) -----------------------------------------------------------------------------

export function kubectlPointerPath(spec: Exclude<KubectlVersionSpec, { kind: 'exact' }>): string {
  return spec.kind === 'stable' ? 'release/stable.txt' : `release/stable-${spec.major}.${spec.minor}.txt`;
}

export function kubectlBinaryPath(version: string, p: ToolPlatform): string {
  return `release/v${version}/bin/${p.os}/${p.arch}/kubectl${p.exe}`;
}

export function kubectlChecksumPath(version: string, p: ToolPlatform): string {
  return `${kubectlBinaryPath(version, p)}.sha256`;
}

// --- helm (get.helm.sh layout) ------------------------------------------------------------------------------

/** The per-major pointer that Helm's own installer scripts read (helm3-latest-version, helm4-latest-version). */
export function helmPointerPath(major: number): string {
  return `helm${major}-latest-version`;
}

export function helmArchiveName(version: string, p: ToolPlatform): string {
  return `helm-v${version}-${p.os}-${p.arch}.${p.os === 'windows' ? 'zip' : 'tar.gz'}`;
}

export function helmChecksumName(version: string, p: ToolPlatform): string {
  return `${helmArchiveName(version, p)}.sha256sum`;
}

/** Where the binary sits inside the archive. */
export function helmBinaryInArchive(p: ToolPlatform): string {
  return `${p.os}-${p.arch}/helm${p.exe}`;
}

// --- checksum files -----------------------------------------------------------------------------------------

/**
 * Reads a checksum file: either the bare hex digest (kubectl's .sha256) or 'digest  name' (helm's .sha256sum,
 * sha256sum's format). When a name is present it must be the file we downloaded.
 */
export function parseSha256File(text: string, fileName: string): string {
  const [digest, name, ...rest] = text.trim().split(/\s+/);
  if (digest === undefined || !/^[0-9a-f]{64}$/i.test(digest) || rest.length > 0) {
    throw new Error(`the checksum file for ${fileName} does not hold one SHA-256 digest`);
  }
  if (name !== undefined && name.replace(/^\*/, '') !== fileName) {
    throw new Error(`the checksum file for ${fileName} names another file: ${name}`);
  }
  return digest.toLowerCase();
}
