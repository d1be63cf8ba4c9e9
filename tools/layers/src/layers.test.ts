import { describe, expect, it } from 'vitest';
import { graphLines, importSpecifiers, packageOf, violations, type Layer, type Workspace } from './layers.js';

function ws(name: string, layer: Layer, imports: readonly string[], declared: readonly string[] = imports): Workspace {
  return { name, layer, declared: new Set(declared), imports: new Map(imports.map((i) => [i, `${name}/src/index.ts`])) };
}

describe('violations', () => {
  const healthy = [
    ws('@distgan/protocol', 'package', ['msgpackr']),
    ws('@distgan/models', 'package', ['@tensorflow/tfjs']),
    ws('@distgan/training', 'package', ['@distgan/models', '@distgan/protocol']),
    ws('@distgan/worker', 'app', ['@distgan/training', 'ws']),
    ws('@distgan/coordinator', 'app', ['@distgan/training', '@distgan/worker']),
    ws('@distgan/bench', 'tool', ['@distgan/coordinator']),
  ];

  it('finds nothing in a workspace that keeps the rule', () => {
    expect(violations(healthy)).toEqual([]);
  });

  it('names a package that imports an app or a tool, and an app that imports a tool', () => {
    const broken = [...healthy.slice(0, 2), ws('@distgan/training', 'package', ['@distgan/models', '@distgan/coordinator']), ...healthy.slice(3, 5)];
    broken.push(ws('@distgan/worker2', 'app', ['@distgan/bench']), healthy[5]!);
    expect(violations(broken)).toEqual([
      '@distgan/training (package) imports @distgan/coordinator (app) in @distgan/training/src/index.ts',
      '@distgan/worker2 (app) imports @distgan/bench (tool) in @distgan/worker2/src/index.ts',
      // The coordinator imports training, so the wrong import also closes a cycle.
      'the workspaces import each other in a cycle: @distgan/training -> @distgan/coordinator -> @distgan/training',
    ]);
  });

  it('names an import of a workspace its package.json does not declare', () => {
    const undeclared = [...healthy.slice(0, 2), ws('@distgan/training', 'package', ['@distgan/models', '@distgan/protocol'], ['@distgan/models'])];
    expect(violations(undeclared)).toEqual([
      '@distgan/training imports @distgan/protocol in @distgan/training/src/index.ts without declaring it in package.json',
    ]);
  });

  it('follows the protocol package through the workspaces it imports to TensorFlow.js', () => {
    const tfjs = [ws('@distgan/protocol', 'package', ['@distgan/rng']), ws('@distgan/rng', 'package', ['@tensorflow/tfjs-core'])];
    expect(violations(tfjs)).toEqual(['@distgan/protocol reaches TensorFlow.js: @distgan/protocol -> @distgan/rng -> @tensorflow/tfjs-core']);
  });

  it('names a cycle', () => {
    const cycle = [ws('@distgan/a', 'package', ['@distgan/b']), ws('@distgan/b', 'package', ['@distgan/c']), ws('@distgan/c', 'package', ['@distgan/a'])];
    expect(violations(cycle)).toEqual(['the workspaces import each other in a cycle: @distgan/a -> @distgan/b -> @distgan/c -> @distgan/a']);
  });
});

describe('reading imports', () => {
  it('finds static, side-effect, re-export and dynamic imports, and names their package', () => {
    // Written in capitals here, so that the layering check reading this file does not take them for its imports.
    const source =
      `IMPORT * as tf FROM '@tensorflow/tfjs';\nIMPORT './side.js';\nexport { x } FROM "@distgan/rng/sub";\nconst m = await IMPORT('ws');\nIMPORT { a } FROM 'node:fs';`
        .replaceAll('IMPORT', 'import')
        .replaceAll('FROM', 'from');
    expect(importSpecifiers(source).sort()).toEqual(['./side.js', '@distgan/rng/sub', '@tensorflow/tfjs', 'node:fs', 'ws']);
    expect(['./side.js', '@distgan/rng/sub', 'ws', 'node:fs', '/abs'].map(packageOf)).toEqual([null, '@distgan/rng', 'ws', null, null]);
  });
});

describe('graphLines', () => {
  it('lists the workspaces by depth, each with the workspaces it imports', () => {
    const graph = [
      ws('@distgan/training', 'package', ['@distgan/models', '@distgan/protocol']),
      ws('@distgan/protocol', 'package', ['msgpackr']),
      ws('@distgan/models', 'package', ['@distgan/protocol']),
      ws('@distgan/worker', 'app', ['@distgan/training']),
    ];
    expect(graphLines(graph)).toEqual([
      '0 @distgan/protocol (package) <- -',
      '1 @distgan/models (package) <- @distgan/protocol',
      '2 @distgan/training (package) <- @distgan/models, @distgan/protocol',
      '3 @distgan/worker (app) <- @distgan/training',
    ]);
  });
});
