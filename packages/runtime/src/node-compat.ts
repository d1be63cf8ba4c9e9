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

/** TensorFlow's thread pools for one process: intra-op threads (one op's work) and inter-op threads (ops side by side). */
export interface TensorFlowThreads {
  readonly intraOp: number;
  readonly interOp: number;
}

/** The variables `configureTensorFlow` set in `process.env` that the user had not: left out of `environmentAsGiven`. */
const setHere = new Set<string>();

/**
 * TensorFlow's settings for this process, before its library loads; a value the user set wins.
 * libtensorflow reads them only from its environment, so this is the one place that writes them
 * there, from explicit arguments: `threads` sizes the pools (unset: TensorFlow's default, as
 * large as the machine). INFO lines (CPU features) stay out of stderr, where every worker would
 * print them; warnings and errors still show. oneDNN is asked for explicitly: it is TensorFlow's
 * default on x86 anyway, TensorFlow then skips its notice that oneDNN is on, and with it a
 * matMul's bits do not depend on the size of the thread pool (without it they do), which the
 * determinism promise relies on.
 */
export function configureTensorFlow(threads?: TensorFlowThreads, env: NodeJS.ProcessEnv = process.env): void {
  const settings: Record<string, string> = { TF_CPP_MIN_LOG_LEVEL: '1', TF_ENABLE_ONEDNN_OPTS: '1' };
  if (threads) Object.assign(settings, { TF_NUM_INTRAOP_THREADS: String(threads.intraOp), TF_NUM_INTEROP_THREADS: String(threads.interOp) });
  for (const [name, value] of Object.entries(settings)) {
    if (env[name] !== undefined) continue;
    env[name] = value;
    if (env === process.env) setHere.add(name);
  }
}

/**
 * This process's environment as the user gave it, without what `configureTensorFlow` set for this
 * process alone: what child processes (local workers) start from, so that the coordinator's own
 * thread pools never pass for the user's choice.
 */
export function environmentAsGiven(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of setHere) delete env[name];
  return env;
}
