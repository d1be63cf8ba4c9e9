// The model configuration's types: a leaf module that every other one may import.

export type Activation = 'linear' | 'tanh' | 'sigmoid' | 'relu' | 'leakyRelu';

/**
 * A fully connected layer on a flat input. `kind` may be left out: MLP configs written before
 * the other layer kinds existed stay valid and keep their config hashes (and so their run dirs).
 */
export interface DenseLayer {
  readonly kind?: 'dense';
  readonly units: number;
  readonly activation: Activation;
}

/** Flat input to an image of [height, width, channels] (sizes must match). */
export interface ReshapeLayer {
  readonly kind: 'reshape';
  readonly shape: readonly [number, number, number];
}

/** A stride-1 convolution with 'same' padding and an odd square kernel, on an image. */
export interface ConvLayer {
  readonly kind: 'conv';
  readonly filters: number;
  readonly kernel: number;
  readonly activation: Activation;
}

/** Nearest-neighbour 2x upsampling of an image. */
export interface UpsampleLayer {
  readonly kind: 'upsample';
}

/** 2x2 average pooling (stride 2) of an image with even sides. */
export interface AvgPoolLayer {
  readonly kind: 'avgPool';
}

/** An image back to a flat vector. */
export interface FlattenLayer {
  readonly kind: 'flatten';
}

export type Layer = DenseLayer | ReshapeLayer | ConvLayer | UpsampleLayer | AvgPoolLayer | FlattenLayer;

/** A feed-forward network: `inputSize` floats in, a flat vector out (images are internal). */
export interface NetworkConfig {
  readonly inputSize: number;
  readonly layers: readonly Layer[];
  /**
   * A projection discriminator (Miyato & Koyama 2018) when set: the input's last `classes`
   * columns are a one-hot class code y, and the output (one linear unit) gains the inner product
   * of y's learned embedding (a `classes` x h matrix `v`, the last parameter) with h, the last
   * hidden layer's output. The layers still see the whole input, code included. Absent: a plain
   * network (old configs keep their hashes).
   */
  readonly projection?: { readonly classes: number };
  /**
   * Inverted dropout on every hidden layer's output while training (discriminator only; dense
   * layers only): each unit is zeroed with probability `rate` and the others scaled by 1/(1 -
   * rate), from masks the trainer draws per row (`fillDropoutMask`), so a shard's masks do not
   * depend on which worker computes it. Absent: no dropout (old configs keep their hashes).
   */
  readonly dropout?: number;
}

export type NoiseConfig =
  | { readonly distribution: 'uniform'; readonly size: number; readonly min: number; readonly max: number }
  | { readonly distribution: 'normal'; readonly size: number; readonly mean: number; readonly std: number };

/**
 * `normalInvFanIn` is the tutorial's "xavier_initializer": normal(0, stddev = 1/fan_in).
 * `glorotUniform` is Keras's default: uniform(+-sqrt(6/(fan_in+fan_out))).
 */
export type Initializer = 'normalInvFanIn' | 'glorotUniform';

export interface GanModelConfig {
  readonly noise: NoiseConfig;
  readonly generator: NetworkConfig;
  readonly discriminator: NetworkConfig;
  readonly initializer: Initializer;
  /** Slope of leakyRelu for x < 0. */
  readonly leakyReluAlpha: number;
  /** Range real images are scaled to; should match the generator's output activation. */
  readonly pixelRange: { readonly min: number; readonly max: number };
  /**
   * A class-conditional GAN (Mirza & Osindero 2014) when set: a one-hot code of the row's class
   * is appended to G's noise and to D's input (real images with their labels, fakes with the
   * class they were drawn for), so G's input is noise.size + classes wide and D's is the image
   * size + classes. Drawing the class uniformly makes G an ordinary MNIST sampler whose latent
   * has a categorical part. Absent: unconditional (and old configs keep their hashes).
   */
  readonly classes?: number;
}
