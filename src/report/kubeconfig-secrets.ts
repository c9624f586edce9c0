// Finds the credentials inside a kubeconfig, so each is masked on its own (the file as a whole is masked too,
// but logs never print it whole: they print fields).
import { parse } from 'yaml';

const SECRET_KEYS = new Set([
  'token',
  'client-key-data',
  'client-certificate-data',
  'password',
  'id-token',
  'refresh-token',
  'access-token',
  'client-secret',
  'secret',
]);

export function kubeconfigSecrets(text: string): string[] {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch {
    return [];
  }
  const found: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node as Record<string, unknown>)) {
        if (typeof v === 'string' && SECRET_KEYS.has(k.toLowerCase()) && v.length > 0) found.push(v);
        else walk(v);
      }
    }
  };
  walk(doc);
  return found;
}
