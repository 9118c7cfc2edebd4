import { type Compression, type FrameKind, type FrameHeader, readHeader } from './header.js';
import type { Metadata } from '../metadata.js';
import type { RequestMessage, ResponseMessage } from '../transport/transport.js';
import { DEFAULT_MAX_FRAME_SIZE, MAGIC_0, MAGIC_1, PREFIX_BYTES, WIRE_VERSION } from './frame.js';
import { protocolError } from '../errors/framework-errors.js';

const EMPTY = new Uint8Array(0);

/**
 * A received frame: its header fields and its body in one object of fixed shape. It is at once
 * the RequestMessage a server transport dispatches and the ResponseMessage a client transport
 * hands back, so a frame costs one object from the socket to core.
 */
export class Frame implements FrameHeader, RequestMessage, ResponseMessage {
  kind: FrameKind = 0 as FrameKind;
  id = 0;
  service = '';
  method = '';
  codec = '';
  compression: Compression = 0;
  timeoutMs = 0;
  metadata: Metadata | undefined = undefined;
  status = 0;
  message: string | undefined = undefined;
  details: string | undefined = undefined;
  stack: string | undefined = undefined;
  body: Uint8Array = EMPTY;
  /** Absolute deadline, set by the receiver from timeoutMs (RequestMessage). */
  deadline = 0;
}

/**
 * A pure, incremental frame parser: feed it bytes as they come (split or merged anyhow), it calls
 * back once per whole frame. Sizes are checked from the prefix, before anything is buffered, so a
 * hostile length never allocates. Any violation throws a protocol error; the decoder is then
 * unusable and the connection must be closed.
 */
export class FrameDecoder {
  private readonly maxFrameSize: number;
  /** Leftover bytes of an incomplete frame, kept as chunks to avoid quadratic copying. */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes the frame at the head of the buffer needs in all (0 while its prefix is incomplete). */
  private needed = 0;
  /** Set by close(): nothing more is parsed or handed on, not even the rest of the current chunk. */
  private closed = false;

  constructor(options: { maxFrameSize?: number } = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  }

  /** Bytes held while waiting for the rest of a frame. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /**
   * Stops the decoder for good: frames still in the chunk being parsed are dropped and later
   * pushes are ignored. A connection calls it on a protocol violation (also from inside
   * `onFrame`), so that nothing after the violation reaches a handler.
   */
  close(): void {
    this.closed = true;
    this.reset();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.closed) return;
    try {
      this.take(chunk, onFrame);
    } catch (error) {
      this.close(); // a violation leaves the decoder unusable: nothing behind it is parsed
      throw error;
    }
  }

  private take(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.buffered === 0) {
      this.parse(chunk, onFrame);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.needed === 0) {
      // Still inside the prefix: validate what we have so garbage fails as early as possible.
      const joined = Buffer.concat(this.chunks, this.buffered);
      this.reset();
      this.parse(joined, onFrame);
      return;
    }
    if (this.buffered < this.needed) return;
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.reset();
    this.parse(joined, onFrame);
  }

  private reset(): void {
    this.chunks = [];
    this.buffered = 0;
    this.needed = 0;
  }

  private parse(buf: Buffer, onFrame: (frame: Frame) => void): void {
    let offset = 0;
    const end = buf.length;
    while (offset < end) {
      const available = end - offset;
      this.checkPrefix(buf, offset, available);
      if (available < PREFIX_BYTES) break;
      const total = buf.readUInt32BE(offset + 3);
      const frameBytes = 7 + total;
      if (available < frameBytes) {
        this.needed = frameBytes;
        break;
      }
      const headerLength = buf.readUInt32BE(offset + 7);
      const headerStart = offset + PREFIX_BYTES;
      const bodyStart = headerStart + headerLength;
      const frame = new Frame();
      try {
        readHeader(buf, headerStart, bodyStart, frame);
      } catch (error) {
        throw protocolError(`the frame header is not a valid protobuf message (${(error as Error).message})`);
      }
      offset += frameBytes;
      frame.body = buf.subarray(bodyStart, offset);
      onFrame(frame);
      if (this.closed) return;
    }
    if (offset < end) {
      const rest = buf.subarray(offset);
      this.chunks.push(rest);
      this.buffered = rest.length;
    }
  }

  /** Validates as much of the 11-byte prefix as is available. */
  private checkPrefix(buf: Buffer, offset: number, available: number): void {
    if (buf[offset] !== MAGIC_0 || (available > 1 && buf[offset + 1] !== MAGIC_1)) {
      const seen = buf.subarray(offset, offset + Math.min(available, 2)).toString('hex');
      throw protocolError(`wrong magic bytes 0x${seen} (expected 0x5356 'SV'): the peer does not speak the @svc protocol`);
    }
    if (available > 2 && buf[offset + 2] !== WIRE_VERSION) {
      throw protocolError(`wire version ${buf[offset + 2]} is not supported (this side speaks version ${WIRE_VERSION}); upgrade the older side`);
    }
    if (available < PREFIX_BYTES) return;
    const total = buf.readUInt32BE(offset + 3);
    if (total > this.maxFrameSize) {
      throw protocolError(`frame of ${total} bytes exceeds the maximum frame size of ${this.maxFrameSize} bytes; raise maxFrameSize on both sides or send less`);
    }
    const headerLength = buf.readUInt32BE(offset + 7);
    if (total < 4 || headerLength > total - 4) {
      throw protocolError(`frame header length ${headerLength} does not fit in a frame of ${total} bytes`);
    }
  }
}
