// Builds dist/ (what GitHub executes) from src/: one ESM bundle per entry, minified, without source maps,
// with @kubernetes/client-node and the tool installer split into chunks loaded only when a run needs them.
//
// Why esbuild and not ncc: ncc minifies only the entry file, not the chunks it splits off for dynamic
// imports (measured: a 19 MB unminified chunk for @kubernetes/client-node), and without splitting every run
// pays for loading client-node before it has even validated its inputs. esbuild splits and minifies both.
import { build, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import path from 'node:path';
import { rmSync, writeFileSync } from 'node:fs';

const outdir = process.argv[2] ?? 'dist';

// Two copies of undici were bundled: 8 (client-node's fetch) and 6 (@actions/http-client's), 0.4 MB of 1.1 MB.
// http-client takes only its ProxyAgent class, for getAgentDispatcher(), which nothing in the action calls;
// undici 8 has the same class and options, so both resolve to client-node's copy.
const clientNodeRequire = createRequire(createRequire(import.meta.url).resolve('@kubernetes/client-node'));
const undici8 = path.dirname(clientNodeRequire.resolve('undici/package.json'));

// undici's index is CommonJS, so a bundler keeps all of it: WebSocket, EventSource, the cache stores, cookies,
// the mock agents, interceptors. Its importers take three names (client-node: fetch, Agent, ProxyAgent;
// http-client: ProxyAgent), so `undici` resolves to a module that exports just those from the files defining
// them, after the one step of undici's index they rely on (the request/connect API on every dispatcher:
// ProxyAgent tunnels with connect()). It is ESM: an importer asking for any other name fails the build.
const undiciEntry: Plugin = {
  name: 'undici-entry',
  setup(b) {
    b.onResolve({ filter: /^undici$/ }, () => ({ path: 'undici', namespace: 'undici-entry' }));
    // Its imports resolve from undici 8's directory.
    b.onLoad({ filter: /.*/, namespace: 'undici-entry' }, () => ({
      resolveDir: undici8,
      loader: 'js',
      contents: [
        `import Dispatcher from './lib/dispatcher/dispatcher.js';`,
        `import api from './lib/api/index.js';`,
        `import Agent from './lib/dispatcher/agent.js';`,
        `import ProxyAgent from './lib/dispatcher/proxy-agent.js';`,
        `import webFetch from './lib/web/fetch/index.js';`,
        'Object.assign(Dispatcher.prototype, api);',
        'export const fetch = webFetch.fetch;',
        'export { Agent, ProxyAgent };',
      ].join('\n'),
    }));
  },
};

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  entryPoints: { index: 'src/index.ts', post: 'src/post.ts', cli: 'src/cli.ts' },
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  splitting: true,
  minify: true,
  legalComments: 'none',
  outdir,
  chunkNames: 'chunks/[name]-[hash]',
  // Bundled CommonJS dependencies call require(); give the ESM bundle one.
  banner: {
    js: "import{createRequire as __mdcoreRequire}from'node:module';const require=__mdcoreRequire(import.meta.url);",
  },
  logLevel: 'warning',
  metafile: true,
  plugins: [undiciEntry],
  // undici's own switch for builds that bundle it (Node.js core's is one): the HTTP/1 parser is llhttp only,
  // and the experimental Milo parser (two WebAssembly builds, 148 KiB) is left out. Side effect: fetch's
  // default user agent reads `node`; every request of the action sets its own.
  define: { esbuildDetection: 'true' },
});
writeFileSync(`${outdir}/package.json`, '{ "type": "module" }\n');
// For bench/bundle-weights.ts: which module weighs what in which output.
if (process.env.BUNDLE_METAFILE) writeFileSync(process.env.BUNDLE_METAFILE, JSON.stringify(result.metafile));
let total = 0;
for (const meta of Object.values(result.metafile.outputs)) total += meta.bytes;
process.stdout.write(
  `dist: ${Object.keys(result.metafile.outputs).length} files, ${(total / 1e6).toFixed(2)} MB\n`,
);
