#!/usr/bin/env node
// The same engine from a terminal: `mdcore-upgrade --namespace mdcore --tag 5.20.0 [--method kubectl] ...`.
// Every action input is a flag of the same name; the summary (or, with --output json, one JSON document on
// stdout and everything else on stderr) is printed at the end.
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { runUpgrade } from './engine/run.ts';
import { installingTools } from './engine/tools.ts';
import { INPUT_DESCRIPTIONS } from './input-descriptions.ts';
import { formatInputErrors, INPUT_NAMES, INPUT_SPECS, parseInputs } from './plan/inputs.ts';
import { printRole } from './plan/print-role.ts';
import { outcomeJson } from './report/json.ts';
import { failureAnnotation, outputsOf, renderSummary } from './report/summary.ts';
import { TerminalReporter } from './report/terminal.ts';

export type OutputFormat = 'text' | 'json';

export interface ParsedArgs {
  inputs: Record<string, string>;
  help: boolean;
  verbose: boolean;
  output: OutputFormat;
  errors: string[];
}

/** Secrets may come from the environment so they stay out of shell history and process lists. */
export const SECRET_ENV: readonly (readonly [input: string, env: string])[] = [
  ['kubeconfig', 'MDCORE_KUBECONFIG'],
  ['license-key', 'MDCORE_LICENSE_KEY'],
  ['api-key', 'MDCORE_API_KEY'],
  ['config-password', 'MDCORE_CONFIG_PASSWORD'],
  ['set-secret', 'MDCORE_SET_SECRET'],
];

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const inputs: Record<string, string> = {};
  const errors: string[] = [];
  let help = false;
  let verbose = false;
  let output: OutputFormat = 'text';
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
    if (name === 'output') {
      if (value === 'json' || value === 'text') output = value;
      else errors.push(`--output must be text or json, not "${value.slice(0, 40)}"`);
      continue;
    }
    inputs[name] = value;
  }
  return { inputs, help, verbose, output, errors };
}

const WIDTH = 100;
const INDENT = 28;

/** Word-wraps text into lines of at most `width` characters, each after `indent` spaces but the first. */
function wrap(text: string, indent: number, width: number): string {
  const words = text.split(/\s+/).filter(Boolean);
  const lines: string[] = [];
  let line = '';
  for (const w of words) {
    if (line && line.length + 1 + w.length > width - indent) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

function flagLine(flag: string, text: string): string {
  const head = `  ${flag}`;
  const pad = head.length < INDENT - 1 ? head.padEnd(INDENT) : `${head}\n${' '.repeat(INDENT)}`;
  return `${pad}${wrap(text, INDENT, WIDTH)}`;
}

/** The help text: every action input as a flag, with action.yml's description, the default and what is accepted. */
export function usage(): string {
  const rows = INPUT_NAMES.map((n) => {
    const doc = INPUT_DESCRIPTIONS[n];
    const spec = INPUT_SPECS[n];
    const facts = [
      doc?.required ? 'Required.' : '',
      spec.default ? `Default: ${spec.default}.` : '',
      `Accepts ${spec.accepted}.`,
    ].filter(Boolean);
    const env = SECRET_ENV.find(([input]) => input === n)?.[1];
    if (env) facts.push(`Or set ${env}.`);
    return flagLine(`--${n}`, `${doc?.description ?? ''} ${facts.join(' ')}`);
  });
  return [
    'Usage: mdcore-upgrade --namespace NS --tag TAG [options]',
    '',
    'Upgrades OPSWAT MetaDefender Core on Kubernetes with the same engine as the GitHub Action.',
    'Every action input is a flag of the same name: --name value or --name=value; a flag without',
    'a value means true.',
    '',
    'Action inputs:',
    ...rows,
    '',
    'Command-line options:',
    flagLine(
      '--output text|json',
      'text (default): progress and the summary. json: one JSON document with the outcome on stdout (result, outputs, steps, error), everything else on stderr.',
    ),
    flagLine(
      '--print-role [NS/SA]',
      'Print the Role (and RoleBinding) these inputs need, bound to ServiceAccount SA in namespace NS (default mdcore-upgrader in --namespace), and exit. Contacts no cluster.',
    ),
    flagLine('--verbose, -v', 'Show every command and API call.'),
    flagLine('--help, -h', 'Show this help.'),
    '',
    'Exit status: 0 upgraded, unchanged or dry run; 1 failed or rolled back; 2 invalid arguments.',
    '',
  ].join('\n');
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
}

const PROCESS_IO: CliIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  env: process.env,
};

export async function main(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  const args = parseArgs(argv);
  if (args.help) {
    io.stdout(usage());
    return 0;
  }
  const json = args.output === 'json';
  // With JSON on stdout, progress goes to stderr so a script can parse stdout as it is.
  const reporter = new TerminalReporter({
    verbose: args.verbose,
    out: (l) => (json ? io.stderr(`${l}\n`) : io.stdout(`${l}\n`)),
  });
  const refuse = (message: string): number => {
    reporter.error(message);
    if (json)
      io.stdout(
        `${JSON.stringify({ version: 1, result: 'invalid-arguments', ok: false, error: message })}\n`,
      );
    return 2;
  };
  if (args.errors.length) return refuse(`${args.errors.join('\n')}\n\nSee mdcore-upgrade --help.`);
  for (const [name, env] of SECRET_ENV) {
    const v = io.env[env];
    if (v && args.inputs[name] === undefined) args.inputs[name] = v;
  }
  if (args.inputs['print-role'] !== undefined) {
    const { 'print-role': value = 'true', ...inputs } = args.inputs;
    const role = printRole(inputs, value);
    if (!role.ok) return refuse(role.message);
    io.stdout(role.text);
    return 0;
  }
  // The installer keeps tools where GitHub runners keep them; outside a runner, in the user's cache.
  process.env.RUNNER_TOOL_CACHE ||= path.join(
    process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'),
    'mdcore-upgrade-action',
    'tool-cache',
  );
  process.env.RUNNER_TEMP ||= tmpdir();
  const parsed = parseInputs(args.inputs);
  if (!parsed.ok) return refuse(formatInputErrors(parsed.errors));
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  if (parsed.plan.rehearsal) {
    const { runRehearsal } = await import('./engine/rehearsal.ts');
    const { renderRehearsal } = await import('./report/rehearsal.ts');
    const res = await runRehearsal(parsed.plan, {
      reporter,
      tools: installingTools(parsed.plan, reporter),
      signal: controller.signal,
    }).finally(() => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    });
    if (json)
      io.stdout(`${reporter.mask(JSON.stringify({ ...res.report, reportPath: res.reportPath }, null, 2))}\n`);
    else reporter.info(`\n${reporter.mask(renderRehearsal(res.report, res.reportPath))}`);
    if (!res.report.passed) {
      reporter.error(reporter.mask(res.report.error ?? 'the rehearsal failed'));
      return 1;
    }
    return 0;
  }
  const outcome = await runUpgrade(parsed.plan, {
    reporter,
    tools: installingTools(parsed.plan, reporter),
    signal: controller.signal,
  }).finally(() => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
  const failed = outcome.result === 'failed' || outcome.result === 'rolled-back';
  if (json) {
    // Masked value by value: a secret with quotes or newlines would no longer match once JSON-escaped.
    const masked = JSON.stringify(
      outcomeJson(outcome),
      (_key, v: unknown) => (typeof v === 'string' ? reporter.mask(v) : v),
      2,
    );
    io.stdout(`${masked}\n`);
  } else {
    reporter.info('');
    reporter.info(renderSummary(outcome, { timeline: 'text' }));
    reporter.info(
      `outputs: ${Object.entries(outputsOf(outcome))
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`,
    );
  }
  if (failed) {
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
