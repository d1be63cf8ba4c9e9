import { quantizedDropoutRate } from './dropout.js';
import { layerShapes, type ExampleShape } from './spec.js';
import type { GanModelConfig } from './types.js';

/** Checks the shapes fit together; throws a message naming the problems. */
export function validateModelConfig(config: GanModelConfig): void {
  const problems: string[] = [];
  const g = config.generator;
  const d = config.discriminator;
  const classes = config.classes ?? 0;
  if (config.classes !== undefined) {
    if (!(Number.isInteger(classes) && classes >= 2 && classes <= 1024)) problems.push(`classes must be an integer in [2, 1024], got ${config.classes}`);
    // The code is appended to a flat input; an image-first D would need another way in.
    if (d.layers[0] && (d.layers[0].kind ?? 'dense') !== 'dense') problems.push('a class-conditional discriminator must start with a dense layer');
  }
  if (g.projection) problems.push('only the discriminator can have a projection');
  // G's samples and exported model would run without the masks it was trained with.
  if (g.dropout !== undefined) problems.push('only the discriminator can have dropout');
  if (d.dropout !== undefined) {
    if (!(d.dropout > 0 && d.dropout < 1)) problems.push(`dropout rate must be in (0, 1), got ${d.dropout}`);
    else if (!(quantizedDropoutRate(d.dropout) > 0 && quantizedDropoutRate(d.dropout) < 1))
      problems.push(`dropout rate ${d.dropout} rounds to ${quantizedDropoutRate(d.dropout)} in 1/256 steps`);
    if (d.layers.some((layer) => (layer.kind ?? 'dense') !== 'dense')) problems.push('dropout needs a discriminator of dense layers only');
  }
  if (d.projection && d.projection.classes !== config.classes)
    problems.push(`the discriminator's projection has ${d.projection.classes} classes, the model ${config.classes ?? 'none'}`);
  const codeWidth = Number.isInteger(classes) ? classes : 0;
  if (g.inputSize !== config.noise.size + codeWidth) {
    problems.push(
      codeWidth
        ? `generator input ${g.inputSize} != noise size ${config.noise.size} + ${codeWidth} classes`
        : `generator input ${g.inputSize} != noise size ${config.noise.size}`,
    );
  }
  const outputs: Partial<Record<'generator' | 'discriminator', ExampleShape>> = {};
  for (const [name, net] of [
    ['generator', g],
    ['discriminator', d],
  ] as const) {
    if (net.layers.length === 0) {
      problems.push(`${name} has no layers`);
      continue;
    }
    try {
      const out = layerShapes(net).at(-1);
      if (!out) continue; // one shape per layer, and the net has layers
      if (out.length === 3) problems.push(`${name} ends in an image; add a flatten layer`);
      else outputs[name] = out;
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  const imageSize = d.inputSize - codeWidth;
  if (outputs.generator && outputs.generator[0] !== imageSize) {
    problems.push(
      codeWidth
        ? `generator output ${outputs.generator[0]} != discriminator input ${d.inputSize} - ${codeWidth} classes`
        : `generator output ${outputs.generator[0]} != discriminator input ${d.inputSize}`,
    );
  }
  if (outputs.discriminator && outputs.discriminator[0] !== 1) problems.push('discriminator must end in 1 unit (a logit)');
  if (problems.length > 0) throw new Error(`invalid model config: ${problems.join('; ')}`);
}
