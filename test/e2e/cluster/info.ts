// Shape of the cluster information global-setup.ts hands to tests (no runtime dependency on vitest).

/** What global-setup.ts provides to every test file. */
export interface E2EClusterInfo {
  name: string;
  kubeconfig: string;
  binDir: string;
  kubectl: string;
  helm3: string;
  helm4: string;
  /** The build script's cache dir (bin/, helm3/, helm4/). */
  toolsDir: string;
  /** The cluster's temporary directory (KWOK_WORKDIR). */
  workdir: string;
  /** Pids of the control-plane processes (etcd, kube-apiserver, ...). */
  pids: number[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    mdcoreCluster: E2EClusterInfo;
  }
}

/** Env vars set by global-setup.ts (for tools and code that do not use vitest's inject()). */
export const E2E_ENV = {
  kubeconfig: 'KUBECONFIG_E2E',
  binDir: 'MDCORE_E2E_BIN',
  kubectl: 'MDCORE_E2E_KUBECTL',
  helm3: 'MDCORE_E2E_HELM3',
  helm4: 'MDCORE_E2E_HELM4',
} as const;
