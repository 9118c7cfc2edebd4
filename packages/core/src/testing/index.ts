/// <reference types="node" preserve="true" />
export { describeTransportConformance, type ConformanceTarget } from './conformance.js';
export { ConformanceService, type FailRequest } from './conformance-service.js';
