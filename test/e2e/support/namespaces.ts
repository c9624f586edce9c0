// Per-test namespaces for e2e files: created on demand, deleted after each test.
import { afterEach } from 'vitest';
import { freshNamespace, type Namespace } from '../cluster/context.ts';

/** Registers an afterEach that deletes every namespace the test created; returns the creator. */
export function useNamespaces(): (prefix: string) => Promise<string> {
  const created: Namespace[] = [];
  afterEach(async () => {
    while (created.length) await created.pop()?.cleanup();
  });
  return async (prefix) => {
    const ns = await freshNamespace(prefix);
    created.push(ns);
    return ns.name;
  };
}
