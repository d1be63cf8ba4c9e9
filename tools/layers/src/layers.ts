/**
 * The layering rule, as pure checks over what each workspace declares and imports:
 * - a package (packages/*) imports only packages, never an app (apps/*) or a tool (tools/*);
 * - an app imports packages and apps, never a tool;
 * - every workspace it imports is declared in its package.json;
 * - `@distgan/protocol` reaches no TensorFlow.js, directly or through the workspaces it imports;
 * - the workspaces' imports have no cycle.
 */
export type Layer = 'package' | 'app' | 'tool';

export interface Workspace {
  readonly name: string;
  readonly layer: Layer;
  /** Names in its package.json's dependencies, devDependencies and peerDependencies. */
  readonly declared: ReadonlySet<string>;
  /** Package names its source imports (`@scope/name`, `name`; subpaths cut), with one file that does. */
  readonly imports: ReadonlyMap<string, string>;
}

/** May a workspace of layer `from` import one of layer `to`? */
const ALLOWED: Record<Layer, readonly Layer[]> = { package: ['package'], app: ['package', 'app'], tool: ['package', 'app', 'tool'] };

/** Packages that must not reach TensorFlow.js, and what counts as reaching it. */
const TFJS_FREE = ['@distgan/protocol'];
const isTfjs = (name: string) => name.startsWith('@tensorflow/');

/** Every breach of the rule, one line each (empty: the rule holds). */
export function violations(workspaces: readonly Workspace[]): string[] {
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const out: string[] = [];
  for (const w of workspaces) {
    for (const [name, file] of w.imports) {
      const target = byName.get(name);
      if (target && !ALLOWED[w.layer].includes(target.layer)) out.push(`${w.name} (${w.layer}) imports ${name} (${target.layer}) in ${file}`);
      if (target && name !== w.name && !w.declared.has(name)) out.push(`${w.name} imports ${name} in ${file} without declaring it in package.json`);
    }
  }
  for (const name of TFJS_FREE) {
    const path = pathTo(name, isTfjs, byName);
    if (path) out.push(`${name} reaches TensorFlow.js: ${path.join(' -> ')}`);
  }
  const cycle = findCycle(workspaces, byName);
  if (cycle) out.push(`the workspaces import each other in a cycle: ${cycle.join(' -> ')}`);
  return out;
}

/** Workspace names `w` imports. */
function internal(w: Workspace, byName: ReadonlyMap<string, Workspace>): string[] {
  return [...w.imports.keys()].filter((n) => n !== w.name && byName.has(n));
}

/** An import path from `start` to a package that `goal` accepts, through workspaces, or null. */
function pathTo(start: string, goal: (name: string) => boolean, byName: ReadonlyMap<string, Workspace>): string[] | null {
  const seen = new Set<string>([start]);
  const queue: string[][] = [[start]];
  for (let path = queue.shift(); path; path = queue.shift()) {
    const w = byName.get(path.at(-1) ?? '');
    if (!w) continue;
    for (const name of w.imports.keys()) {
      if (goal(name)) return [...path, name];
      if (!seen.has(name)) {
        seen.add(name);
        queue.push([...path, name]);
      }
    }
  }
  return null;
}

/** One cycle among the workspaces' imports, as names from a workspace back to itself, or null. */
function findCycle(workspaces: readonly Workspace[], byName: ReadonlyMap<string, Workspace>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string, path: string[]): string[] | null => {
    if (state.get(name) === 'done') return null;
    if (state.get(name) === 'open') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'open');
    const w = byName.get(name);
    for (const next of w ? internal(w, byName) : []) {
      const cycle = visit(next, [...path, name]);
      if (cycle) return cycle;
    }
    state.set(name, 'done');
    return null;
  };
  for (const w of workspaces) {
    const cycle = visit(w.name, []);
    if (cycle) return cycle;
  }
  return null;
}

/** The package an import specifier names (`@scope/name/sub` -> `@scope/name`), or null for a relative or `node:` one. */
export function packageOf(specifier: string): string | null {
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return null;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The module specifiers a TypeScript source imports or re-exports (static and dynamic imports with a literal). */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [/\bfrom\s+['"]([^'"]+)['"]/g, /\bimport\s+['"]([^'"]+)['"]/g, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) found.push(m[1]!);
  return found;
}

/**
 * The workspaces by depth: level 0 imports no workspace, level n imports only workspaces below
 * it. One line per workspace: `level name (layer) <- the workspaces it imports`.
 */
export function graphLines(workspaces: readonly Workspace[]): string[] {
  const byName = new Map(workspaces.map((w) => [w.name, w]));
  const level = new Map<string, number>();
  const levelOf = (name: string, seen: ReadonlySet<string>): number => {
    const known = level.get(name);
    if (known !== undefined) return known;
    const w = byName.get(name);
    const deps = w ? internal(w, byName).filter((d) => !seen.has(d)) : [];
    const l = deps.length === 0 ? 0 : 1 + Math.max(...deps.map((d) => levelOf(d, new Set([...seen, name]))));
    level.set(name, l);
    return l;
  };
  return [...workspaces]
    .map((w) => ({ w, l: levelOf(w.name, new Set()) }))
    .sort((a, b) => a.l - b.l || a.w.name.localeCompare(b.w.name))
    .map(({ w, l }) => `${l} ${w.name} (${w.layer}) <- ${internal(w, byName).sort().join(', ') || '-'}`);
}
