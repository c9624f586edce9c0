// The parts of @kubernetes/client-node the action uses, named one by one: a dynamic import of the whole package
// keeps every API group's client in the bundle, a static list lets the bundler drop the rest.
export {
  AppsV1Api,
  AuthorizationV1Api,
  CoordinationV1Api,
  CoreV1Api,
  DiscoveryV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  VersionApi,
  Watch,
} from '@kubernetes/client-node';
