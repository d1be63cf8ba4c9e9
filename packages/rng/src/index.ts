export { mix32, hashString } from './hash.js';
export { RandomStream, randomStream, type KeyPart } from './stream.js';
