// The parts of @kubernetes/client-node the action uses, each from the module that defines it: a dynamic import
// of the whole package keeps every API group's client in the bundle, and its index also pulls in exec, attach,
// cp and port-forward (ws, tar) for their module side effects. Named modules let the bundler drop the rest.
// The package has no exports map, so these paths are part of what it publishes (the same as its index uses).
export { KubeConfig } from '@kubernetes/client-node/dist/config.js';
export { setHeaderOptions } from '@kubernetes/client-node/dist/middleware.js';
export { PatchStrategy } from '@kubernetes/client-node/dist/patch.js';
export { Watch } from '@kubernetes/client-node/dist/watch.js';
export {
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  VersionApi,
} from '@kubernetes/client-node/dist/gen/index.js';
