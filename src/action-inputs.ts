// Reads the action's inputs from the runner, registering secret inputs for masking before anything else.
import * as core from '@actions/core';
import { INPUT_NAMES, SECRET_INPUTS, secretsOfInput } from './plan/inputs.ts';
import type { Reporter } from './report/reporter.ts';

/** The state key under which the main step tells the post step where its journal is. */
export const JOURNAL_STATE = 'journal';

export function readActionInputs(reporter: Reporter): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const name of INPUT_NAMES) {
    const secret = (SECRET_INPUTS as readonly string[]).includes(name);
    raw[name] = core.getInput(name, { trimWhitespace: !secret });
    for (const s of secretsOfInput(name, raw[name])) reporter.secret(s);
  }
  return raw;
}
