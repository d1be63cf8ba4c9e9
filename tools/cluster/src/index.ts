export { checkImageArguments, substituteVariables } from './cli-check.js';
export { docker, dockerAvailable, runDocker } from './docker.js';
