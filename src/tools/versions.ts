// What the kubectl-version and helm-version inputs may say, and how the answers of the version look-ups
// and of the binaries themselves are read. Pure functions.

/** A recent Kubernetes patch release; the test cluster is built from the same version. */
export const DEFAULT_KUBECTL_VERSION = '1.36.3';

// Helm 3, not 4, by default: the MetaDefender Core chart documentation is written for Helm 3, and most users'
// releases were installed and are upgraded by Helm 3 in their existing pipelines. Helm 4 changes defaults (how
// manifests are applied, the plugin system), so moving an existing release to it must be the user's choice:
// helm-version: 4 (or an exact 4.x.y) selects it, and nothing here ever moves a user between majors on its own.
export const DEFAULT_HELM_VERSION = '3.22.0';
/** The major line that helm-version 'latest' follows. */
export const DEFAULT_HELM_MAJOR = 3;

const EXACT = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;

export type KubectlVersionSpec =
  { kind: 'exact'; version: string } | { kind: 'stable' } | { kind: 'minor'; major: number; minor: number };

export type HelmVersionSpec = { kind: 'exact'; version: string } | { kind: 'major'; major: number };

/** Strips a leading 'v' from an exact version; undefined when the text is not an exact version. */
export function exactVersion(text: string): string | undefined {
  const t = text.trim();
  return EXACT.test(t) ? t.replace(/^v/, '') : undefined;
}

export function parseKubectlVersionSpec(input: string | undefined): KubectlVersionSpec {
  const raw = (input ?? '').trim();
  if (raw === '') return { kind: 'exact', version: DEFAULT_KUBECTL_VERSION };
  const lower = raw.toLowerCase();
  if (lower === 'stable' || lower === 'latest') return { kind: 'stable' };
  const minor = /^v?(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(raw);
  if (minor) return { kind: 'minor', major: Number(minor[1]), minor: Number(minor[2]) };
  const exact = exactVersion(raw);
  if (exact !== undefined) return { kind: 'exact', version: exact };
  throw new Error(
    `kubectl-version '${raw}' is not understood: give an exact version (1.36.3 or v1.36.3), ` +
      `a minor version for its newest patch (1.34), or 'stable' / 'latest'`,
  );
}

export function parseHelmVersionSpec(input: string | undefined): HelmVersionSpec {
  const raw = (input ?? '').trim();
  if (raw === '') return { kind: 'exact', version: DEFAULT_HELM_VERSION };
  if (raw.toLowerCase() === 'latest') return { kind: 'major', major: DEFAULT_HELM_MAJOR };
  const major = /^v?(0|[1-9]\d*)$/.exec(raw);
  if (major) return { kind: 'major', major: checkHelmMajor(Number(major[1]), raw) };
  if (/^v?\d+\.\d+$/.test(raw)) {
    throw new Error(
      `helm-version '${raw}': Helm publishes no per-minor release pointer; give an exact version (3.22.0) or a major (3 or 4)`,
    );
  }
  const exact = exactVersion(raw);
  if (exact !== undefined) {
    checkHelmMajor(Number(exact.split('.')[0]), raw);
    return { kind: 'exact', version: exact };
  }
  throw new Error(
    `helm-version '${raw}' is not understood: give an exact version (3.22.0 or v3.22.0), a major for its newest ` +
      `release (3 or 4), or 'latest' (the newest Helm ${DEFAULT_HELM_MAJOR})`,
  );
}

function checkHelmMajor(major: number, raw: string): number {
  if (major < 3)
    throw new Error(`helm-version '${raw}': Helm ${major} is not supported; use Helm 3 or later`);
  return major;
}

/**
 * Reads a release pointer (stable.txt, stable-1.34.txt, helm3-latest-version): one line holding a release
 * version with a leading 'v'. Anything else, or a version outside the expected line, is an error: a pointer that
 * suddenly names another major (or minor) must never move the user there silently.
 */
export function parseReleasePointer(
  body: string,
  expected: { major: number; minor?: number },
  shownUrl: string,
): string {
  const first = body.trim().split(/\r?\n/)[0]?.trim() ?? '';
  const m = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(first);
  if (!m) {
    const shown = first.length > 60 ? `${first.slice(0, 60)}…` : first;
    throw new Error(`${shownUrl} answered '${shown}', which is not a release version such as v1.2.3`);
  }
  const [major, minor] = [Number(m[1]), Number(m[2])];
  const line = expected.minor === undefined ? `${expected.major}.x` : `${expected.major}.${expected.minor}.x`;
  if (major !== expected.major || (expected.minor !== undefined && minor !== expected.minor)) {
    throw new Error(
      `${shownUrl} points to ${first}, outside the requested ${line} line; refusing to switch to it`,
    );
  }
  return first.slice(1);
}

/** The client version from `kubectl version --client -o json`, without the leading 'v'. */
export function parseKubectlClientVersion(stdout: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(stdout);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const client = (parsed as { clientVersion?: { gitVersion?: unknown } }).clientVersion;
    const git = client?.gitVersion;
    return typeof git === 'string' ? exactVersion(git) : undefined;
  } catch {
    return undefined;
  }
}

/** The version from `helm version --template {{.Version}}`, without the leading 'v'. */
export function parseHelmVersionOutput(stdout: string): string | undefined {
  return exactVersion(stdout.trim().split(/\r?\n/)[0] ?? '');
}
