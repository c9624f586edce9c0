// Renders src/input-descriptions.ts from action.yml, so the CLI's --help shows the action's own descriptions
// without reading action.yml at run time (dist/cli.js may run where no action.yml lies beside it).
// `--write` updates the file; a unit test keeps it equal to this rendering.
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

export const TARGET = 'src/input-descriptions.ts';

export function renderInputDescriptions(actionYml: string): string {
  const a = parse(actionYml) as { inputs: Record<string, { description: string; required?: boolean }> };
  const entries = Object.entries(a.inputs).map(
    ([name, i]) =>
      `  ${JSON.stringify(name)}: { description: ${JSON.stringify(i.description.replace(/\s+/g, ' ').trim())}, required: ${i.required === true} },`,
  );
  return [
    '// Generated from action.yml by scripts/input-descriptions.ts (node scripts/input-descriptions.ts --write).',
    '// The descriptions of the action inputs, for the CLI help; a unit test keeps this file equal to action.yml.',
    '// prettier-ignore',
    'export const INPUT_DESCRIPTIONS: Readonly<Record<string, { readonly description: string; readonly required: boolean }>> = {',
    ...entries,
    '};',
    '',
  ].join('\n');
}

if (process.argv.includes('--write')) {
  writeFileSync(TARGET, renderInputDescriptions(readFileSync('action.yml', 'utf8')));
}
