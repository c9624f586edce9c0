// A kubeconfig with its certificate files inlined, as a kubeconfig kept in a CI secret is.
import { readFileSync } from 'node:fs';
import { parse, stringify } from 'yaml';

export function embeddedKubeconfig(file: string): string {
  const kc = parse(readFileSync(file, 'utf8')) as {
    clusters: { cluster: Record<string, string> }[];
    users: { user: Record<string, string> }[];
  };
  const inline = (o: Record<string, string>, fileKey: string, dataKey: string): void => {
    if (o[fileKey]) {
      o[dataKey] = readFileSync(o[fileKey]).toString('base64');
      delete o[fileKey];
    }
  };
  for (const c of kc.clusters) inline(c.cluster, 'certificate-authority', 'certificate-authority-data');
  for (const u of kc.users) {
    inline(u.user, 'client-certificate', 'client-certificate-data');
    inline(u.user, 'client-key', 'client-key-data');
  }
  return stringify(kc);
}
