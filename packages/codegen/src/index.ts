/// <reference types="node" preserve="true" />
export { Generator, type GeneratorOptions, type GenerateResult, type GeneratedFile, type ServiceOutput, type WriteReport } from './generator.js';
export { CodegenError, CodegenFailure, CodegenWarning } from './errors.js';
export { assignNumbers, signature, type WireChange } from './model/assign-numbers.js';
export { readLock, formatLock, type Lock, type ServiceLock } from './model/lock.js';
export type { DraftService, DraftMessage, DraftEnum, DraftField, DraftMethod } from './model/draft.js';
export { readServices } from './read/service-reader.js';
export { emitProto } from './emit/proto-emitter.js';
export { emitJsonSchema } from './emit/json-schema-emitter.js';
export { GENERATED } from './emit/header.js';
export { runCli } from './cli.js';
export { watch, type Watcher } from './watch.js';
