// The bundle talks to the API server through the kubeconfig's proxy-url: client-node's requests and watches
// (undici's fetch and ProxyAgent, bundled through scripts/bundle.ts's narrow undici entry), the custom-object
// requests (node:https with client-node's agent) and kubectl all tunnel through a CONNECT proxy on this machine.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { embeddedKubeconfig } from '../support/kubeconfig.ts';
import { e2eCluster, freshNamespace } from './cluster/context.ts';
import { deploymentView, IMAGE, installFixture } from './support/action.ts';
import { useBundleOfSources, useDistRunner } from './support/dist-runner.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});
const { runner, start } = useDistRunner();

interface Proxy {
  readonly url: string;
  /** The targets of the CONNECT requests, one entry a tunnel. */
  readonly tunnels: string[];
}

/** A CONNECT proxy on 127.0.0.1 that tunnels to 127.0.0.1 only; stopped after the test. */
async function connectProxy(): Promise<Proxy> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    tunnels.push(target);
    const port = Number(target.split(':').at(-1));
    if (!target.startsWith('127.0.0.1:') || !Number.isInteger(port)) {
      client.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    const upstream = connect(port, '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${String(port)}`, tunnels };
}

describe('dist/index.js behind the kubeconfig proxy-url', () => {
  useBundleOfSources();

  it('upgrades with every connection to the API server tunnelled through the proxy', async () => {
    const ns = await freshNamespace('dist-proxy');
    cleanups.push(() => ns.cleanup());
    await installFixture(ns.name);
    const proxy = await connectProxy();
    const kc = parse(embeddedKubeconfig(e2eCluster().kubeconfig)) as {
      clusters: { cluster: Record<string, string> }[];
    };
    const server = new URL(kc.clusters[0]?.cluster['server'] ?? '');
    for (const c of kc.clusters) c.cluster['proxy-url'] = proxy.url;
    const r = runner({
      namespace: ns.name,
      tag: '5.20.0',
      method: 'kubectl',
      kubeconfig: stringify(kc),
      'kubectl-version': '1.36.3',
    });
    const p = start('index.js', r.env);
    expect(await p.code, p.output()).toBe(0);
    expect(r.outputs()).toMatchObject({ result: 'upgraded', 'new-image': `${IMAGE}:5.20.0` });
    expect((await deploymentView(ns.name)).image).toBe(`${IMAGE}:5.20.0`);
    // client-node's requests, its watches and kubectl each open connections of their own.
    expect(proxy.tunnels.length).toBeGreaterThanOrEqual(3);
    expect(new Set(proxy.tunnels)).toEqual(new Set([`${server.hostname}:${server.port}`]));
  });
});
