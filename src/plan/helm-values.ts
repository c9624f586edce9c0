// Helm value paths (`a.b.c`, `\.` for a dot inside a name) turned into the nested map a values file holds, so
// secret values travel in a file instead of on helm's command line. Pure.

export interface PathProblem {
  readonly key: string;
  readonly problem: string;
}

/** Splits a value path at unescaped dots; undefined when a name is empty or uses list syntax. */
export function splitValuePath(key: string): string[] | undefined {
  const parts: string[] = [];
  let cur = '';
  for (let i = 0; i < key.length; i++) {
    const c = key[i];
    if (c === '\\' && key[i + 1] === '.') {
      cur += '.';
      i++;
    } else if (c === '.') {
      parts.push(cur);
      cur = '';
    } else if (c === '[' || c === ']' || c === '\\') {
      return undefined;
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  // `__proto__` would reach the object's prototype instead of naming a value.
  return parts.some((p) => p === '' || p === '__proto__') ? undefined : parts;
}

type Tree = { [k: string]: Tree | string };

/**
 * The nested values map of `key=value` settings, every value a string (as --set-string). A path that is both a
 * value and a map of further values (`a=1` and `a.b=2`), or set twice, is a problem: helm would keep only one.
 */
export function valuesTree(
  settings: readonly { readonly key: string; readonly value: string }[],
): { tree: Record<string, unknown> } | { problems: PathProblem[] } {
  const tree: Tree = {};
  const problems: PathProblem[] = [];
  for (const { key, value } of settings) {
    const parts = splitValuePath(key);
    if (!parts) {
      problems.push({
        key,
        problem: 'list indexes ([n]), a bare "\\", an empty name and __proto__ are not supported here',
      });
      continue;
    }
    let node: Tree = tree;
    let clash = false;
    for (const name of parts.slice(0, -1)) {
      const next = Object.hasOwn(node, name) ? node[name] : undefined;
      if (typeof next === 'string') {
        clash = true;
        break;
      }
      node = next ?? (node[name] = {});
    }
    const leaf = parts[parts.length - 1] ?? '';
    if (clash || Object.hasOwn(node, leaf)) {
      problems.push({ key, problem: 'it overlaps another line (the same path, or a value and a map)' });
      continue;
    }
    node[leaf] = value;
  }
  return problems.length > 0 ? { problems } : { tree };
}
