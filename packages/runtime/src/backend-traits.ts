import * as tf from '@tensorflow/tfjs';

/**
 * What the code does differently per TensorFlow.js backend, decided here and only here: the
 * packages ask for a trait (`backendTraits().nativeKernels`), never for a backend's name.
 */
export interface BackendTraits {
  /**
   * TensorFlow's own kernels (tfjs-node): a matMul with transposed operands is one call, a closed
   * form beats autodiff's chain of small ops, and TensorFlow graphs run in SavedModel sessions.
   */
  readonly nativeKernels: boolean;
  /**
   * `tf.tensor` copies the values at once (wasm, into its heap), so the caller may overwrite its
   * memory right after. tfjs-node and cpu keep a reference and read it at the tensor's first use.
   */
  readonly copiesOnCreate: boolean;
  /** Tensor values can be read in place, as a view of the backend's memory (wasm's heap). */
  readonly heapViews: boolean;
}

const PLAIN: BackendTraits = { nativeKernels: false, copiesOnCreate: false, heapViews: false };

const TRAITS: Readonly<Record<string, BackendTraits>> = {
  tensorflow: { nativeKernels: true, copiesOnCreate: false, heapViews: false },
  wasm: { nativeKernels: false, copiesOnCreate: true, heapViews: true },
  cpu: PLAIN,
};

/** The traits of tfjs's registered backend `name` (default: the active one); an unknown backend gets none of them. */
export function backendTraits(name: string = tf.getBackend()): BackendTraits {
  return TRAITS[name] ?? PLAIN;
}
