// Builds dist/ (what GitHub executes) from src/: one ESM bundle per entry, minified, without source maps,
// with @kubernetes/client-node and the tool installer split into chunks loaded only when a run needs them.
//
// Why esbuild and not ncc: ncc minifies only the entry file, not the chunks it splits off for dynamic
// imports (measured: a 19 MB unminified chunk for @kubernetes/client-node), and without splitting every run
// pays for loading client-node before it has even validated its inputs. esbuild splits and minifies both.
import { build } from 'esbuild';
import { rmSync, writeFileSync } from 'node:fs';

const outdir = process.argv[2] ?? 'dist';
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
});
writeFileSync(`${outdir}/package.json`, '{ "type": "module" }\n');
let total = 0;
for (const meta of Object.values(result.metafile.outputs)) total += meta.bytes;
process.stdout.write(
  `dist: ${Object.keys(result.metafile.outputs).length} files, ${(total / 1e6).toFixed(2)} MB\n`,
);
