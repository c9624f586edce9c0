import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parse } from 'yaml';
import { kubeconfigForTools, providerTokenFile } from '../../src/cluster/kubeconfig-file.ts';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const TOKEN = 'eyJhbGciOiJSUzI1NiJ9.c2VydmljZS1hY2NvdW50.c2lnbmF0dXJl';

type Doc = {
  clusters: { name: string; cluster: Record<string, unknown> }[];
  users: { name: string; user: Record<string, unknown> }[];
  contexts: { name: string; context: Record<string, unknown> }[];
  'current-context': string;
};

describe('kubeconfigForTools: in-cluster credentials', () => {
  let root: string;
  beforeEach(() => {
    // client-node's loadFromCluster takes a path prefix: the pod's files live under a temp directory here.
    root = mkdtempSync(join(tmpdir(), 'kubeconfig-file-'));
    mkdirSync(join(root, SA_DIR), { recursive: true });
    writeFileSync(join(root, SA_DIR, 'token'), TOKEN);
    writeFileSync(join(root, SA_DIR, 'ca.crt'), 'not a real certificate');
    writeFileSync(join(root, SA_DIR, 'namespace'), 'runners');
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    rmSync(root, { recursive: true, force: true });
  });

  function inCluster(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromCluster(root);
    return kc;
  }

  it('client-node represents them as an auth-provider kubectl does not have', () => {
    const raw = parse(inCluster().exportConfig()) as Doc;
    expect(raw.users[0]?.user['auth-provider']).toEqual({
      name: 'tokenFile',
      config: { tokenFile: join(root, SA_DIR, 'token') },
    });
  });

  it('writes the token file path, the CA file and the server kubectl wants', () => {
    const doc = parse(kubeconfigForTools(inCluster().exportConfig())) as Doc;
    expect(doc.users).toEqual([{ name: 'inClusterUser', user: { tokenFile: join(root, SA_DIR, 'token') } }]);
    expect(doc.clusters).toEqual([
      {
        name: 'inCluster',
        cluster: {
          server: 'https://10.96.0.1:443',
          'certificate-authority': join(root, SA_DIR, 'ca.crt'),
          'insecure-skip-tls-verify': false,
        },
      },
    ]);
    expect(doc['current-context']).toBe('inClusterContext');
    expect(doc.contexts[0]?.context).toMatchObject({
      cluster: 'inCluster',
      user: 'inClusterUser',
      namespace: 'runners',
    });
  });

  it('never writes the token itself', () => {
    const text = kubeconfigForTools(inCluster().exportConfig());
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('auth-provider');
  });

  it('brackets an IPv6 service address as client-node does', () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', 'fd00::1');
    const doc = parse(kubeconfigForTools(inCluster().exportConfig())) as Doc;
    expect(doc.clusters[0]?.cluster.server).toBe('https://[fd00::1]:443');
  });
});

const CA = Buffer.from('ca').toString('base64');
const ordinary: Record<string, string> = {
  'client certificates': `
apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:6443', certificate-authority-data: ${CA} } }]
users: [{ name: u, user: { client-certificate-data: Y2VydA==, client-key-data: a2V5 } }]
contexts: [{ name: x, context: { cluster: c, user: u, namespace: ns } }]
current-context: x
`,
  'certificate and key files': `
apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://k.example:6443', certificate-authority: /etc/k/ca.crt } }]
users: [{ name: u, user: { client-certificate: /etc/k/u.crt, client-key: /etc/k/u.key } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  'a bearer token': `
apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://k.example', certificate-authority-data: ${CA}, tls-server-name: api.k } }]
users: [{ name: u, user: { token: s3cr3t-token } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  'an exec plugin': `
apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://k.example', certificate-authority-data: ${CA} } }]
users:
  - name: u
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: aws
        args: [eks, get-token, --cluster-name, prod]
        env: [{ name: AWS_PROFILE, value: ci }]
        interactiveMode: Never
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  'insecure-skip-tls-verify and basic auth': `
apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true } }]
users: [{ name: u, user: { username: admin, password: pw } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  'an oidc auth-provider': `
apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://k.example', certificate-authority-data: ${CA} } }]
users:
  - name: u
    user:
      auth-provider:
        name: oidc
        config: { client-id: k, id-token: e30.e30.x, idp-issuer-url: 'https://id.example' }
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
  'an exec-shaped auth-provider with a tokenFile next to it': `
apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://k.example' } }]
users:
  - name: u
    user:
      auth-provider:
        name: exec
        config: { tokenFile: /t, exec: { command: x } }
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
};

describe('kubeconfigForTools: ordinary kubeconfigs', () => {
  for (const [what, text] of Object.entries(ordinary)) {
    it(`leaves ${what} as client-node exports it`, () => {
      const kc = new KubeConfig();
      kc.loadFromString(text);
      const exported = kc.exportConfig();
      expect(JSON.parse(kubeconfigForTools(exported))).toEqual(JSON.parse(exported));
    });
  }

  it('keeps the chosen context current', () => {
    const kc = new KubeConfig();
    kc.loadFromString(ordinary['client certificates'] ?? '');
    kc.addContext({ name: 'other', cluster: 'c', user: 'u' });
    kc.setCurrentContext('other');
    expect((JSON.parse(kubeconfigForTools(kc.exportConfig())) as Doc)['current-context']).toBe('other');
  });
});

describe('providerTokenFile', () => {
  it('finds the token file of any provider client-node reads it for', () => {
    expect(
      providerTokenFile({ 'auth-provider': { name: 'custom', config: { tokenFile: '/run/token' } } }),
    ).toBe('/run/token');
  });
  it('leaves providers client-node matches before its file provider', () => {
    for (const name of ['azure', 'gcp', 'exec']) {
      expect(providerTokenFile({ 'auth-provider': { name, config: { tokenFile: '/t' } } })).toBeUndefined();
    }
    expect(providerTokenFile({ token: 'x' })).toBeUndefined();
  });
  it('keeps a token given next to the provider (client-node and kubectl both prefer it)', () => {
    const out = JSON.parse(
      kubeconfigForTools(
        JSON.stringify({
          users: [
            { name: 'u', user: { token: 't', 'auth-provider': { name: 'x', config: { tokenFile: '/f' } } } },
          ],
        }),
      ),
    ) as Doc;
    expect(out.users[0]?.user).toEqual({ token: 't', tokenFile: '/f' });
  });
});
