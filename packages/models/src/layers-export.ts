import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { Activation, NetworkConfig } from './types.js';
import { parameterSpec } from './spec.js';
import { tensorOfReusedMemory } from './tensor-memory.js';

/** Keras activation names; leakyRelu has none and becomes its own LeakyReLU layer. */
const KERAS_ACTIVATION: Readonly<Record<Exclude<Activation, 'leakyRelu'>, string>> = { linear: 'linear', tanh: 'tanh', sigmoid: 'sigmoid', relu: 'relu' };

/**
 * The network as a tf.LayersModel holding the snapshot's weights (Dense, Conv2D with 'same'
 * padding, Reshape, UpSampling2D, AveragePooling2D, Flatten, plus LeakyReLU layers where
 * needed), so it can be saved in TensorFlow.js format and loaded with tf.loadLayersModel
 * anywhere. The caller owns (and disposes) the model.
 */
export function toLayersModel(config: NetworkConfig, snapshot: Float32Array, leakyReluAlpha = 0.2, name = 'generator'): tf.LayersModel {
  const spec = parameterSpec(config);
  const model = tf.sequential({ name });
  // Layer names carry the config's layer number (dense_1, leaky_relu_1, conv_2, ...).
  const add = (layer: tf.layers.Layer, position: number, activation?: Activation) => {
    model.add(layer);
    if (activation === 'leakyRelu') model.add(tf.layers.leakyReLU({ alpha: leakyReluAlpha, name: `leaky_relu_${position}` }));
  };
  const keras = (activation: Activation) => (activation === 'leakyRelu' ? 'linear' : KERAS_ACTIVATION[activation]) as 'linear';
  for (const [i, layer] of config.layers.entries()) {
    const first = i === 0 ? { inputShape: [config.inputSize] } : {};
    const layerName = `${layer.kind ?? 'dense'}_${i + 1}`;
    switch (layer.kind) {
      case undefined:
      case 'dense':
        add(tf.layers.dense({ units: layer.units, activation: keras(layer.activation), name: layerName, ...first }), i + 1, layer.activation);
        continue;
      case 'conv':
        add(
          tf.layers.conv2d({
            filters: layer.filters,
            kernelSize: layer.kernel,
            padding: 'same',
            activation: keras(layer.activation),
            name: layerName,
            ...first,
          }),
          i + 1,
          layer.activation,
        );
        continue;
      case 'reshape':
        add(tf.layers.reshape({ targetShape: [...layer.shape], name: layerName, ...first }), i + 1);
        continue;
      case 'upsample':
        add(tf.layers.upSampling2d({ size: [2, 2], name: layerName, ...first }), i + 1);
        continue;
      case 'avgPool':
        add(tf.layers.averagePooling2d({ poolSize: 2, strides: 2, padding: 'valid', name: layerName, ...first }), i + 1);
        continue;
      case 'flatten':
        add(tf.layers.flatten({ name: layerName, ...first }), i + 1);
        continue;
      default: {
        const unknown: never = layer;
        throw new Error(`unknown layer ${JSON.stringify(unknown)}`);
      }
    }
  }
  tf.tidy(() => {
    const tensors = spec.map((p) => tensorOfReusedMemory(snapshot.subarray(p.offset, p.offset + p.size), p.shape));
    model.setWeights(tensors);
  });
  return model;
}

/** The two files of a LayersModel: `model.json` (topology + manifest) and its weights. */
export interface LayersModelFiles {
  readonly modelJson: Record<string, unknown>;
  readonly weightsBin: Uint8Array;
}

/** Serialises a model into the files tf.loadLayersModel reads (weights in `weights.bin`). */
export async function layersModelFiles(model: tf.LayersModel): Promise<LayersModelFiles> {
  let files: LayersModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData;
      const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data];
      const weightsBin = new Uint8Array(buffers.reduce((n, b) => n + b.byteLength, 0));
      let offset = 0;
      for (const b of buffers) {
        weightsBin.set(new Uint8Array(b), offset);
        offset += b.byteLength;
      }
      files = {
        modelJson: {
          modelTopology: artifacts.modelTopology,
          format: artifacts.format ?? 'layers-model',
          generatedBy: artifacts.generatedBy,
          convertedBy: artifacts.convertedBy ?? null,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs ?? [] }],
        },
        weightsBin,
      };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: weightsBin.byteLength } };
    }),
  );
  if (!files) throw new Error('model.save produced no artifacts');
  return files;
}

/** Loads files written by `layersModelFiles` (e.g. read from disk) with tf.loadLayersModel. */
export function loadLayersModelFiles(files: LayersModelFiles): Promise<tf.LayersModel> {
  const manifest = files.modelJson.weightsManifest as { weights: tf.io.WeightsManifestEntry[] }[];
  const bytes = files.weightsBin;
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: files.modelJson.modelTopology as tf.io.ModelJSON['modelTopology'],
      weightSpecs: manifest.flatMap((m) => m.weights),
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
    }),
  );
}

/** Reads `model.json` and `weights.bin` from a folder written with `layersModelFiles`. */
export function readLayersModelFiles(dir: string): LayersModelFiles {
  return {
    modelJson: JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>,
    weightsBin: readFileSync(join(dir, 'weights.bin')),
  };
}
