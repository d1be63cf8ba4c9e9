#!/usr/bin/env node
/** `npm run layers [-- --graph]`: reads every workspace's package.json and source, prints each breach of the layering rule (and with --graph the workspaces by depth), exits 1 if any. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { graphLines, importSpecifiers, packageOf, violations, type Layer, type Workspace } from './layers.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const LAYERS: Record<string, Layer> = { packages: 'package', apps: 'app', tools: 'tool' };

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'node_modules' || name === 'dist' ? [] : sourceFiles(path);
    return /\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function readWorkspace(dir: string, layer: Layer): Workspace {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
  const deps = (key: string) => Object.keys((pkg[key] as Record<string, string> | undefined) ?? {});
  const imports = new Map<string, string>();
  for (const file of sourceFiles(dir)) {
    for (const specifier of importSpecifiers(readFileSync(file, 'utf8'))) {
      const name = packageOf(specifier);
      if (name && !imports.has(name)) imports.set(name, relative(root, file));
    }
  }
  return { name: String(pkg.name), layer, declared: new Set([...deps('dependencies'), ...deps('devDependencies'), ...deps('peerDependencies')]), imports };
}

const workspaces = Object.entries(LAYERS).flatMap(([folder, layer]) =>
  readdirSync(join(root, folder))
    .map((name) => join(root, folder, name))
    .filter((dir) => statSync(dir).isDirectory() && readdirSync(dir).includes('package.json'))
    .map((dir) => readWorkspace(dir, layer)),
);
if (process.argv.includes('--graph')) for (const line of graphLines(workspaces)) process.stdout.write(`${line}\n`);
const found = violations(workspaces);
for (const line of found) process.stderr.write(`layers: ${line}\n`);
process.stdout.write(`layers: ${workspaces.length} workspaces, ${found.length === 0 ? 'the layering rule holds' : `${found.length} breach(es)`}\n`);
process.exit(found.length === 0 ? 0 : 1);
