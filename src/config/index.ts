// Configuration: the validated `Config` every part of the server reads, and its loader.
export { loadConfig, type DeepPartial, type LoadConfigOptions } from './load.js';
export type { Config, LogLevel } from './types.js';
