// The kubeconfig file kubectl and helm read: client-node's loaded config, with the credential shapes only
// client-node understands turned into the fields kubectl and helm (client-go) have for the same thing.
//
// client-node represents in-cluster credentials (no kubeconfig, a pod's service-account files) as a user with
// `auth-provider: { name: tokenFile, config: { tokenFile: <path> } }`. client-go has no auth provider of that
// name and stops with `no Auth Provider found for name "tokenFile"`. Its own field for the same credential is the
// user's `tokenFile`, which it re-reads while it runs, so a projected token that the kubelet rotates keeps
// working. The path is written, never the token itself.

type Json = Record<string, unknown>;

/** Auth providers client-node matches before its file-token one (config.js: azure, gcp, exec, then file). */
const MATCHED_BEFORE_FILE = new Set(['azure', 'gcp', 'exec']);

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * The token file client-node reads for this user, when it authenticates it through an auth-provider's
 * `config.tokenFile` (its in-cluster shape, or any kubeconfig written that way); undefined otherwise.
 */
export function providerTokenFile(user: Json): string | undefined {
  const provider = user['auth-provider'];
  if (!isObject(provider)) return undefined;
  const config = provider.config;
  if (!isObject(config)) return undefined;
  if (typeof provider.name === 'string' && MATCHED_BEFORE_FILE.has(provider.name)) return undefined;
  if (config.exec !== undefined) return undefined;
  const file = config.tokenFile;
  return typeof file === 'string' && file.length > 0 ? file : undefined;
}

function toolUser(user: Json): Json {
  const tokenFile = providerTokenFile(user);
  if (tokenFile === undefined) return user;
  const { 'auth-provider': _provider, ...rest } = user;
  // A `token` next to it stays: client-node sends it in preference to the file, and so does client-go.
  return { ...rest, tokenFile };
}

/**
 * Converts the JSON that client-node's `KubeConfig.exportConfig()` writes into a kubeconfig kubectl and helm
 * accept. Users in a shape client-go understands, clusters and contexts are passed through unchanged.
 */
export function kubeconfigForTools(exported: string): string {
  const doc = JSON.parse(exported) as unknown;
  if (!isObject(doc)) throw new Error('the loaded kubeconfig did not serialise to an object');
  const users = Array.isArray(doc.users) ? (doc.users as unknown[]) : [];
  const converted = users.map((entry) =>
    isObject(entry) && isObject(entry.user) ? { ...entry, user: toolUser(entry.user) } : entry,
  );
  return JSON.stringify({ ...doc, users: converted });
}
