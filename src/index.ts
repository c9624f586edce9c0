// Entry of `runs.main`: refuses bad inputs with only the parser loaded, then loads and calls run(), so tests
// can import main.ts without side effects.
import { failUnexpected, inputsValid } from './input-check.ts';

const write = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

if (inputsValid({ env: process.env, write })) {
  // Loaded by name, not as a namespace: a dynamic import of @actions/core here would keep all of it (its OIDC
  // client and undici) in the start-up path.
  const { run } = await import('./main.ts');
  run().catch((err: unknown) => failUnexpected(err, write));
}
