import util from 'node:util';

/**
 * tfjs-node 4.22.0 calls `util.isNullOrUndefined`, which Node.js 23 removed (Node.js 20 and 22
 * keep it but print a deprecation warning at its first use), and `util.isArray`, which Node.js 24
 * deprecates at run time (a DEP0044 warning on every process); the fixes are merged upstream but
 * unreleased. Defining both on `node:util` with Node's own documented meaning before tfjs-node
 * loads bridges every Node.js version and leaves the package itself untouched.
 */
export function bridgeRemovedUtilFunctions(): void {
  const target = util as unknown as Record<string, unknown>;
  target.isNullOrUndefined = (value: unknown): boolean => value === null || value === undefined;
  target.isArray = Array.isArray;
}

/**
 * TensorFlow's settings for this process, before its library loads; a value the user set wins.
 * INFO lines (CPU features) stay out of stderr, where every worker would print them; warnings and
 * errors still show. oneDNN is asked for explicitly: it is TensorFlow's default on x86 anyway,
 * TensorFlow then skips its notice that oneDNN is on, and with it a matMul's bits do not depend on
 * the size of the thread pool (without it they do), which the determinism promise relies on.
 */
export function configureTensorFlow(env: NodeJS.ProcessEnv = process.env): void {
  env.TF_CPP_MIN_LOG_LEVEL ??= '1';
  env.TF_ENABLE_ONEDNN_OPTS ??= '1';
}
