// Entry of `runs.main`: only calls run(), so tests can import main.ts without side effects.
import * as core from '@actions/core';
import { run } from './main.ts';

run().catch((err: unknown) =>
  core.setFailed(`Unexpected error: ${err instanceof Error ? err.message : String(err)}`),
);
