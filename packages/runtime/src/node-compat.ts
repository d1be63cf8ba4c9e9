import util from 'node:util';

/**
 * tfjs-node 4.22.0 calls `util.isNullOrUndefined`, which Node.js 23 removed (Node.js 20 and 22
 * keep it but print a deprecation warning at its first use); the fix is merged upstream but
 * unreleased. Defining the function on `node:util` with Node's own documented meaning before
 * tfjs-node loads bridges every Node.js version and leaves the package itself untouched.
 */
export function bridgeRemovedUtilFunctions(): void {
  (util as unknown as Record<string, unknown>).isNullOrUndefined = (value: unknown): boolean => value === null || value === undefined;
}

/**
 * TensorFlow's C library logs INFO lines (oneDNN, CPU features) to stderr when it loads, in every
 * process; warnings and errors still show. A level the user set wins.
 */
export function quietTensorFlowInfoLogs(env: NodeJS.ProcessEnv = process.env): void {
  env.TF_CPP_MIN_LOG_LEVEL ??= '1';
}
