// Maps Node's platform and architecture names to the names the kubectl and helm release layouts use.
// Pure functions: the installer passes process.platform / process.arch, tests pass any value.

/** Operating system names used by both download layouts (dl.k8s.io and get.helm.sh). */
export type ToolOs = 'linux' | 'darwin' | 'windows';
/** Architecture names used by both download layouts. */
export type ToolArch = 'amd64' | 'arm64';

export interface ToolPlatform {
  os: ToolOs;
  arch: ToolArch;
  /** '.exe' on windows, '' elsewhere. */
  exe: string;
}

export function toolOs(platform: string): ToolOs {
  switch (platform) {
    case 'linux':
      return 'linux';
    case 'darwin':
      return 'darwin';
    case 'win32':
      return 'windows';
    default:
      throw new Error(
        `kubectl and helm are installed only on linux, macOS and windows runners, not on '${platform}'`,
      );
  }
}

export function toolArch(arch: string): ToolArch {
  switch (arch) {
    case 'x64':
      return 'amd64';
    case 'arm64':
      return 'arm64';
    default:
      throw new Error(`kubectl and helm are installed only on x64 and arm64 runners, not on '${arch}'`);
  }
}

export function toolPlatform(platform: string, arch: string): ToolPlatform {
  const os = toolOs(platform);
  return { os, arch: toolArch(arch), exe: os === 'windows' ? '.exe' : '' };
}
