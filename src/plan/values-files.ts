// The `values-files` check made before any contact with the cluster: each file exists, is readable, is a
// relative path inside the workspace or an absolute path, and holds one YAML map. File access is injected so
// the rules are unit-tested without a disk; `localFiles` is the real one.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';

export interface FileAccess {
  /** The directory relative paths must stay inside (GITHUB_WORKSPACE on a runner). */
  readonly workspace: string;
  /** The directory relative paths are resolved against (helm's working directory). */
  readonly cwd: string;
  /** Symlinks resolved; throws with an errno `code` like fs.realpathSync when the path does not exist. */
  realpath(p: string): string;
  isFile(p: string): boolean;
  /** Throws with an errno `code` like fs.readFileSync when the file cannot be read. */
  read(p: string): string;
}

/** Helm reads values files whole; anything this large is not one. */
export const MAX_VALUES_BYTES = 10 * 1024 * 1024;

export function localFiles(
  workspace: string = process.env.GITHUB_WORKSPACE || process.cwd(),
  cwd: string = process.cwd(),
): FileAccess {
  return {
    workspace,
    cwd,
    realpath: (p) => realpathSync(p),
    isFile: (p) => statSync(p).isFile(),
    read: (p) => {
      if (statSync(p).size > MAX_VALUES_BYTES) throw Object.assign(new Error('too large'), { code: 'E2BIG' });
      return readFileSync(p, 'utf8');
    },
  };
}

function errno(err: unknown): string {
  return (err as { code?: unknown } | null)?.code ? String((err as { code: unknown }).code) : '';
}

function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Problems with one values file, '' when it is fine. Messages name the path (not a secret) and a line/column of
 * a YAML error, never the file's content (values files often hold credentials).
 */
export function valuesFileProblem(file: string, fs: FileAccess): string | undefined {
  if (file.startsWith('-')) return `"${file}" begins with "-": helm would read it as an option`;
  const absolute = path.isAbsolute(file);
  const resolved = path.resolve(fs.cwd, file);
  let real: string;
  try {
    real = fs.realpath(resolved);
  } catch (err) {
    return errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR'
      ? `"${file}" does not exist (looked at ${resolved})`
      : `"${file}" cannot be opened (${errno(err) || 'error'})`;
  }
  if (!absolute) {
    let workspace: string;
    try {
      workspace = fs.realpath(fs.workspace);
    } catch {
      workspace = path.resolve(fs.workspace);
    }
    if (!inside(workspace, real)) {
      return `"${file}" resolves to ${real}, outside the workspace ${workspace}: give an absolute path if that file is really meant`;
    }
  }
  let isFile: boolean;
  try {
    isFile = fs.isFile(real);
  } catch (err) {
    return `"${file}" cannot be opened (${errno(err) || 'error'})`;
  }
  if (!isFile) return `"${file}" is not a regular file`;
  let text: string;
  try {
    text = fs.read(real);
  } catch (err) {
    const code = errno(err);
    if (code === 'E2BIG') return `"${file}" is larger than ${MAX_VALUES_BYTES / 1024 / 1024} MiB`;
    return `"${file}" cannot be read (${code === 'EACCES' ? 'permission denied' : code || 'error'})`;
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: false, prettyErrors: false });
  const first = doc.errors[0];
  if (first) {
    const pos = lineCounter.linePos(first.pos[0]);
    return `"${file}" is not valid YAML (${first.code} at line ${pos.line}, column ${pos.col})`;
  }
  const root: unknown = doc.contents === null ? null : doc.toJS({ maxAliasCount: 1000 });
  if (root !== null && (typeof root !== 'object' || Array.isArray(root))) {
    return `"${file}" does not hold a map of values at its top level`;
  }
  return undefined;
}
