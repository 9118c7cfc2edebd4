/// <reference types="node" preserve="true" />
export { describeTransportConformance, type ConformanceTarget } from './conformance.js';
export { ConformanceService, type FailRequest } from './conformance-service.js';
export { describeFilterSettling, recordingFilter } from './conformance-filters.js';
export { describeStreamConformance } from './conformance-streams.js';
export { StreamsTestService, streamPattern } from './stream-test-service.js';
export { startConformanceServer, type ConformanceServer } from './conformance-server.js';
export { describeChannelContract } from './contracts/channel-contract.js';
export { describeCodecContract, type CodecCase } from './contracts/codec-contract.js';
export { describeRegistryContract, type RegistryRig, type RegistryContractOptions } from './contracts/registry-contract.js';
export { describeSelectorContract, type SelectorContractOptions } from './contracts/selector-contract.js';
export { callChannel, jsonRequest, type ChannelOutcome, type ChannelCallOptions } from './channel-call.js';
export { steady, until } from './until.js';
export { failureOf } from './failure-of.js';
