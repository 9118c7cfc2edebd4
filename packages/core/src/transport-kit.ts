/// <reference types="node" preserve="true" />
/**
 * For transport implementers (@svc/transport-tcp, @svc/transport-nats, ...): the message types,
 * the wire frame and the errors a transport raises, and the plumbing each of them needs, written
 * once: calls in flight (CallTable, PendingCalls), the end-of-tick flush (TickFlush, TickBatch) and
 * deadlines as time left on the wire (remainingMs, deadlineFrom). Applications do not need this
 * entry point.
 */
export type { Transport, Channel, Listener, Dispatcher, ReplyTarget, Cancellable, RequestMessage, ResponseMessage, ResponseHandler, Peer, StreamEnd, StreamReceiver, StreamSender } from './transport/transport.js';
export { schemeOf, transportFor, StreamKind } from './transport/transport.js';
export { DEFAULT_STREAM_WINDOW, INITIAL_STREAM_WINDOW } from './stream/outbound-credit.js';
export { DEFAULT_MAX_STREAM_WINDOW, DEFAULT_STREAM_WINDOW_BUDGET } from './stream/window-budget.js';
export { messageFields } from './stream/message-fields.js';
export { CallTable } from './transport/call-table.js';
export { PendingCalls, type PendingCall } from './transport/pending-calls.js';
export { TickFlush } from './transport/tick-flush.js';
export { TickBatch } from './transport/tick-batch.js';
export { remainingMs, deadlineFrom } from './transport/remaining-time.js';
export { encodeFrame, encodeFrameOf, checkedFrameBytes, writeFrameAt, writeFrameHeadAt, DEFAULT_MAX_FRAME_SIZE, PREFIX_BYTES, WIRE_VERSION } from './wire/frame.js';
export { FrameDecoder, Frame } from './wire/frame-decoder.js';
export { FrameKind, Compression, encodeHeader, decodeHeader, headerSize, WireProgress, progressToWire, progressFromWire, retryableToWire, retryableFromWire, type FrameHeader, type HeaderFields } from './wire/header.js';
export * as errors from './errors/framework-errors.js';
export { topicMatches, carriesEvents, publishesEvents, type EventMessage, type EventSubscription, type EventSubscriber, type EventDelivery, type EventTransport, type EventChannel } from './events/event-transport.js';
export type { FrameDecoderOptions } from './wire/frame-decoder.js';
export { DEFAULT_MAX_METADATA_ENTRIES, DEFAULT_MAX_METADATA_BYTES, checkMetadata, copyMetadata, createMetadata, type MetadataLimits } from './metadata.js';
export { DEFAULT_MAX_DECOMPRESSED_SIZE } from './codec/compression.js';
