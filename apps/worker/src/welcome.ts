import type { MnistDataset } from '@distgan/mnist';
import { protocolError, type ProtocolError, type WelcomeMessage } from '@distgan/protocol';
import { runConfigHash, validateRunConfig, type RunConfig } from '@distgan/training';

/**
 * Whether this worker can join the run a `welcome` describes: a run config valid here that hashes
 * as the coordinator's, and the same MNIST files. The run config and its hash, or the error to
 * close with (reconnecting will not help: `FATAL_CODES`).
 */
export function checkWelcome(welcome: WelcomeMessage, dataset: MnistDataset): { readonly config: RunConfig; readonly hash: string } | ProtocolError {
  const config = welcome.config as unknown as RunConfig;
  try {
    validateRunConfig(config);
  } catch (err) {
    return protocolError('CONFIG_MISMATCH', `coordinator's run config is not valid here: ${(err as Error).message}`);
  }
  const hash = runConfigHash(config);
  if (hash !== welcome.configHash) {
    return protocolError(
      'CONFIG_MISMATCH',
      `run config hashes to ${hash.slice(0, 12)} here but ${welcome.configHash.slice(0, 12)} at the coordinator (different distgan versions?)`,
    );
  }
  if (dataset.fingerprint !== welcome.datasetFingerprint) {
    return protocolError(
      'DATASET_MISMATCH',
      `local MNIST (${dataset.source}) has fingerprint ${dataset.fingerprint.slice(0, 12)}, the coordinator's is ${welcome.datasetFingerprint.slice(0, 12)}: use the same files (--data-dir)`,
    );
  }
  return { config, hash };
}
