import { describe, expect, it } from 'vitest';
import { toolPlatform } from '../../src/tools/platform.ts';
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
} from '../../src/tools/sources.ts';

const linux = toolPlatform('linux', 'x64');
const mac = toolPlatform('darwin', 'arm64');
const win = toolPlatform('win32', 'x64');
const winArm = toolPlatform('win32', 'arm64');

describe('official layouts', () => {
  it('kubectl binary and checksum on dl.k8s.io', () => {
    expect(under(OFFICIAL_KUBECTL_BASE, kubectlBinaryPath('1.36.3', linux))).toBe(
      'https://dl.k8s.io/release/v1.36.3/bin/linux/amd64/kubectl',
    );
    expect(under(OFFICIAL_KUBECTL_BASE, kubectlChecksumPath('1.36.3', mac))).toBe(
      'https://dl.k8s.io/release/v1.36.3/bin/darwin/arm64/kubectl.sha256',
    );
    expect(under(OFFICIAL_KUBECTL_BASE, kubectlBinaryPath('1.35.0', win))).toBe(
      'https://dl.k8s.io/release/v1.35.0/bin/windows/amd64/kubectl.exe',
    );
    expect(kubectlChecksumPath('1.35.0', winArm)).toBe(
      'release/v1.35.0/bin/windows/arm64/kubectl.exe.sha256',
    );
  });

  it('kubectl release pointers', () => {
    expect(under(OFFICIAL_KUBECTL_BASE, kubectlPointerPath({ kind: 'stable' }))).toBe(
      'https://dl.k8s.io/release/stable.txt',
    );
    expect(kubectlPointerPath({ kind: 'minor', major: 1, minor: 34 })).toBe('release/stable-1.34.txt');
  });

  it('helm archives, checksums and binary inside', () => {
    expect(under(OFFICIAL_HELM_BASE, helmArchiveName('3.22.0', linux))).toBe(
      'https://get.helm.sh/helm-v3.22.0-linux-amd64.tar.gz',
    );
    expect(under(OFFICIAL_HELM_BASE, helmChecksumName('3.22.0', mac))).toBe(
      'https://get.helm.sh/helm-v3.22.0-darwin-arm64.tar.gz.sha256sum',
    );
    expect(helmArchiveName('4.3.1', win)).toBe('helm-v4.3.1-windows-amd64.zip');
    expect(helmChecksumName('4.3.1', winArm)).toBe('helm-v4.3.1-windows-arm64.zip.sha256sum');
    expect(helmBinaryInArchive(linux)).toBe('linux-amd64/helm');
    expect(helmBinaryInArchive(winArm)).toBe('windows-arm64/helm.exe');
  });

  it('helm per-major pointers', () => {
    expect(under(OFFICIAL_HELM_BASE, helmPointerPath(3))).toBe('https://get.helm.sh/helm3-latest-version');
    expect(helmPointerPath(4)).toBe('helm4-latest-version');
  });
});

describe('parseMirror', () => {
  it('empty means the official hosts', () => {
    expect(parseMirror(undefined)).toBeUndefined();
    expect(parseMirror('  ')).toBeUndefined();
  });

  it('keeps a path prefix and adds the trailing slash, so both layouts sit below it', () => {
    const m = parseMirror('https://artifacts.example.com/k8s-tools');
    expect(m).toEqual({ url: 'https://artifacts.example.com/k8s-tools/' });
    expect(under(m!.url, kubectlBinaryPath('1.36.3', linux))).toBe(
      'https://artifacts.example.com/k8s-tools/release/v1.36.3/bin/linux/amd64/kubectl',
    );
    expect(under(m!.url, helmArchiveName('3.22.0', linux))).toBe(
      'https://artifacts.example.com/k8s-tools/helm-v3.22.0-linux-amd64.tar.gz',
    );
  });

  it('moves credentials out of the URL into a Basic header and a secret to mask', () => {
    const m = parseMirror('http://ci%40corp:s3cr%2Ft@127.0.0.1:8080/mirror/');
    expect(m?.url).toBe('http://127.0.0.1:8080/mirror/');
    expect(m?.authorization).toBe(`Basic ${Buffer.from('ci@corp:s3cr/t').toString('base64')}`);
    expect(m?.secret).toBe('s3cr/t');
  });

  it('refuses plain http to a host that is neither loopback nor cluster-internal, unless allowed', () => {
    expect(() => parseMirror('http://robot:hunter22@mirror.example.com/')).toThrow(
      /tools-mirror' uses plain http:\/\/ to "mirror.example.com".*allow-insecure-http: true/,
    );
    expect(() => parseMirror('http://robot:hunter22@mirror.example.com/')).not.toThrow(/hunter22/);
    expect(parseMirror('http://mirror.example.com/', { allowInsecureHttp: true })?.url).toBe(
      'http://mirror.example.com/',
    );
    expect(parseMirror('http://tools.infra.svc.cluster.local:8080/')?.url).toBe(
      'http://tools.infra.svc.cluster.local:8080/',
    );
    expect(parseMirror('http://[::1]:8080/')?.url).toBe('http://[::1]:8080/');
  });

  it('a lone token in the user part is the secret', () => {
    const m = parseMirror('https://ghp_abcdef123456@mirror.example.com/');
    expect(m?.secret).toBe('ghp_abcdef123456');
    expect(m?.url).toBe('https://mirror.example.com/');
  });

  it.each([
    ['ci:hunter22@mirror.example.com/x', 'tools-mirror must be an http(s) URL, not ci:'],
    ['hunter22@mirror.example.com/x', 'tools-mirror is not an absolute URL'],
  ])('refuses %j without echoing the credentials in it', (input, expected) => {
    let message = '';
    try {
      parseMirror(input);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(expected);
    expect(message).not.toContain('hunter22');
  });

  it('refuses other protocols and queries', () => {
    expect(() => parseMirror('ftp://mirror.example.com/')).toThrow('http(s)');
    expect(() => parseMirror('file:///srv/mirror/')).toThrow('http(s)');
    expect(() => parseMirror('https://u:pw123456@mirror.example.com/?x=1')).toThrow(
      'tools-mirror must not have a query or fragment: https://mirror.example.com/?x=1',
    );
  });
});

describe('redactUrl', () => {
  it('strips user and password', () => {
    expect(redactUrl('https://user:pass@host.example/a/b?c=d')).toBe('https://host.example/a/b?c=d');
    expect(redactUrl('http://token@127.0.0.1:9/x')).toBe('http://127.0.0.1:9/x');
  });

  it('leaves URLs without credentials, and @ later in the URL, alone', () => {
    expect(redactUrl('https://dl.k8s.io/release/stable.txt')).toBe('https://dl.k8s.io/release/stable.txt');
    expect(redactUrl('https://host.example/a@b')).toBe('https://host.example/a@b');
  });
});

describe('under', () => {
  it('refuses absolute paths that would escape the base prefix', () => {
    expect(() => under('https://m.example/prefix/', '/release/stable.txt')).toThrow('must be relative');
  });
});

describe('parseSha256File', () => {
  const hex = 'a'.repeat(40) + 'B'.repeat(24);

  it('reads a bare digest (kubectl .sha256), lower-cased', () => {
    expect(parseSha256File(`${hex}\n`, 'kubectl')).toBe(hex.toLowerCase());
  });

  it('reads sha256sum format (helm .sha256sum), text or binary mode', () => {
    const name = 'helm-v3.22.0-linux-amd64.tar.gz';
    expect(parseSha256File(`${hex}  ${name}\n`, name)).toBe(hex.toLowerCase());
    expect(parseSha256File(`${hex} *${name}`, name)).toBe(hex.toLowerCase());
  });

  it('refuses a digest for another file', () => {
    expect(() =>
      parseSha256File(`${hex}  helm-v3.21.0-linux-amd64.tar.gz`, 'helm-v3.22.0-linux-amd64.tar.gz'),
    ).toThrow('names another file: helm-v3.21.0-linux-amd64.tar.gz');
  });

  it.each(['', 'abc', `${hex}0`, `${hex.slice(1)}g`, '<html>404</html>', `${hex}  a  b`])(
    'refuses %j',
    (text) => {
      expect(() => parseSha256File(text, 'kubectl')).toThrow('does not hold one SHA-256 digest');
    },
  );
});
