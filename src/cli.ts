#!/usr/bin/env node
// The same engine from a terminal: `mdcore-upgrade --namespace mdcore --tag 5.20.0 [--method kubectl] ...`.
// Every action input is a flag of the same name; the summary is printed at the end.
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { runUpgrade } from './engine/run.ts';
import { installingTools } from './engine/tools.ts';
import { formatInputErrors, INPUT_NAMES, INPUT_SPECS, parseInputs } from './plan/inputs.ts';
import { failureAnnotation, outputsOf, renderSummary } from './report/summary.ts';
import { TerminalReporter } from './report/terminal.ts';

export function parseArgs(argv: readonly string[]): {
  inputs: Record<string, string>;
  help: boolean;
  verbose: boolean;
  errors: string[];
} {
  const inputs: Record<string, string> = {};
  const errors: string[] = [];
  let help = false;
  let verbose = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a === '--verbose' || a === '-v') {
      verbose = true;
      continue;
    }
    const m = /^--([a-z][a-z-]*)(?:=([\s\S]*))?$/.exec(a);
    if (!m) {
      errors.push(`unexpected argument "${a}"`);
      continue;
    }
    const name = m[1] ?? '';
    let value = m[2];
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) value = 'true';
      else {
        value = next;
        i++;
      }
    }
    inputs[name] = value;
  }
  return { inputs, help, verbose, errors };
}

function usage(): string {
  const rows = INPUT_NAMES.map(
    (n) =>
      `  --${n.padEnd(20)} ${INPUT_SPECS[n].accepted}${INPUT_SPECS[n].default ? ` (default ${INPUT_SPECS[n].default})` : ''}`,
  );
  return `Usage: mdcore-upgrade --namespace NS --tag TAG [options]\n\nOptions (the action's inputs):\n${rows.join('\n')}\n  --verbose              show every command\n`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) {
    process.stdout.write(usage());
    return 0;
  }
  const reporter = new TerminalReporter({ verbose: args.verbose });
  if (args.errors.length) {
    reporter.error(`${args.errors.join('\n')}\n\n${usage()}`);
    return 2;
  }
  // Secrets may come from the environment so they stay out of shell history and process lists.
  for (const [name, env] of [
    ['kubeconfig', 'MDCORE_KUBECONFIG'],
    ['license-key', 'MDCORE_LICENSE_KEY'],
    ['api-key', 'MDCORE_API_KEY'],
    ['config-password', 'MDCORE_CONFIG_PASSWORD'],
  ] as const) {
    const v = process.env[env];
    if (v && args.inputs[name] === undefined) args.inputs[name] = v;
  }
  // The installer keeps tools where GitHub runners keep them; outside a runner, in the user's cache.
  process.env.RUNNER_TOOL_CACHE ||= path.join(
    process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'),
    'mdcore-upgrade-action',
    'tool-cache',
  );
  process.env.RUNNER_TEMP ||= tmpdir();
  const parsed = parseInputs(args.inputs);
  if (!parsed.ok) {
    reporter.error(formatInputErrors(parsed.errors));
    return 2;
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const outcome = await runUpgrade(parsed.plan, {
    reporter,
    tools: installingTools(parsed.plan, reporter),
    signal: controller.signal,
  });
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  reporter.info('');
  reporter.info(renderSummary(outcome));
  reporter.info(
    `outputs: ${Object.entries(outputsOf(outcome))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ')}`,
  );
  if (outcome.result === 'failed' || outcome.result === 'rolled-back') {
    reporter.error(failureAnnotation(outcome));
    return 1;
  }
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli.js')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `Unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
