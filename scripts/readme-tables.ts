// Renders the README's inputs and outputs tables from action.yml; `--write` updates README.md in place.
// A unit test keeps README.md equal to this rendering.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

interface ActionYml {
  inputs: Record<string, { description: string; required?: boolean; default?: string }>;
  outputs: Record<string, { description: string }>;
}

export const BEGIN = '<!-- inputs-outputs:begin (generated from action.yml by scripts/readme-tables.ts) -->';
export const END = '<!-- inputs-outputs:end -->';

const esc = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ').trim();

export function renderTables(actionYml: string): string {
  const a = parse(actionYml) as ActionYml;
  const lines = ['### Inputs', '', '| Input | Required | Default | Description |', '|---|---|---|---|'];
  for (const [name, i] of Object.entries(a.inputs)) {
    const def = i.default === undefined || i.default === '' ? '' : `\`${esc(String(i.default))}\``;
    lines.push(`| \`${name}\` | ${i.required ? 'yes' : 'no'} | ${def} | ${esc(i.description)} |`);
  }
  lines.push('', '### Outputs', '', '| Output | Description |', '|---|---|');
  for (const [name, o] of Object.entries(a.outputs)) lines.push(`| \`${name}\` | ${esc(o.description)} |`);
  // Prettier would re-align the tables; the generated block is kept exactly as rendered.
  return [BEGIN, '<!-- prettier-ignore-start -->', ...lines, '<!-- prettier-ignore-end -->', END].join('\n');
}

export function replaceTables(readme: string, tables: string): string {
  const start = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (start < 0 || end < 0) throw new Error('README.md lacks the inputs-outputs markers');
  return readme.slice(0, start) + tables + readme.slice(end + END.length);
}

if (process.argv.includes('--write')) {
  const readme = readFileSync('README.md', 'utf8');
  writeFileSync('README.md', replaceTables(readme, renderTables(readFileSync('action.yml', 'utf8'))));
}
