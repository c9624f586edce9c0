// What weighs what in dist/: per output file, the bytes each package (and the heaviest modules) contribute,
// from esbuild's metafile. Usage:
//   BUNDLE_METAFILE=.tmp/meta.json node scripts/bundle.ts .tmp/dist && node bench/bundle-weights.ts .tmp/meta.json
import { readFileSync } from 'node:fs';

interface Metafile {
  outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
}

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node bench/bundle-weights.ts <metafile.json> [top-modules]\n');
  process.exit(2);
}
const top = Math.min(Math.max(Number(process.argv[3] ?? 6) || 6, 1), 50);
const meta = JSON.parse(readFileSync(file, 'utf8')) as Metafile;
const kib = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;

/** `@scope/name` or `name` of the innermost node_modules package; `src` for the action's own code. */
function packageOf(input: string): string {
  const parts = input.split('node_modules/');
  if (parts.length < 2) return 'src';
  const rest = parts.at(-1)!.split('/');
  return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
}

const outputs = Object.entries(meta.outputs)
  .filter(([name]) => name.endsWith('.js'))
  .sort((a, b) => b[1].bytes - a[1].bytes);
let total = 0;
for (const [name, out] of outputs) {
  total += out.bytes;
  const byPackage = new Map<string, number>();
  for (const [input, v] of Object.entries(out.inputs)) {
    byPackage.set(packageOf(input), (byPackage.get(packageOf(input)) ?? 0) + v.bytesInOutput);
  }
  const packages = [...byPackage].sort((a, b) => b[1] - a[1]);
  process.stdout.write(
    `${name.replace(/^.*?(chunks\/|[^/]+\.js$)/, '$1')}: ${kib(out.bytes)} — ${packages
      .slice(0, 6)
      .map(([p, b]) => `${p} ${kib(b)}`)
      .join(', ')}\n`,
  );
  if (out.bytes > 100 * 1024) {
    const modules = Object.entries(out.inputs).sort((a, b) => b[1].bytesInOutput - a[1].bytesInOutput);
    for (const [input, v] of modules.slice(0, top)) {
      process.stdout.write(
        `    ${kib(v.bytesInOutput).padStart(9)}  ${input.replace(/^.*node_modules\//, '')}\n`,
      );
    }
  }
}
process.stdout.write(`total: ${(total / 1e6).toFixed(2)} MB in ${outputs.length} .js files\n`);
