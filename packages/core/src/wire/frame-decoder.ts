import { type Compression, type FrameKind, type FrameHeader, readHeader } from './header.js';
import { metadataLimits, type Metadata, type MetadataLimits } from '../metadata.js';
import type { Peer, RequestMessage, ResponseMessage } from '../transport/transport.js';
import type { RpcError } from '../errors/rpc-error.js';
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
  progress = 0;
  retryable = 0;
  /** REQUEST: StreamKind, 0 for a unary call. */
  stream = 0;
  /** WINDOW: bytes granted. */
  credit = 0;
  /** MESSAGE: the sender waited for credit before this message. */
  blocked = false;
  body: Uint8Array = EMPTY;
  /** Absolute deadline, set by the receiver from timeoutMs (RequestMessage). */
  deadline = 0;
  /** Who sent it (RequestMessage), set by the transport that received it. */
  peer: Peer | undefined = undefined;
  /** A limit the well-formed frame breaks (metadata over the caps): core answers with it. */
  violation: RpcError | undefined = undefined;
}

export interface FrameDecoderOptions {
  /** Largest frame accepted, from its length field alone. Default 4 MiB. */
  maxFrameSize?: number | undefined;
  /** Metadata entries one frame may carry; more sets the frame's `violation`. Default 64. */
  maxMetadataEntries?: number | undefined;
  /** Bytes of metadata keys and values one frame may carry; more sets `violation`. Default 16 KiB. */
  maxMetadataBytes?: number | undefined;
}

/**
 * Frames up to this size are assembled in one buffer of their size from the start: a 64 KiB
 * message (the usual chunk size of a stream) with room for its header. At 64 KiB such a frame,
 * which nearly always spans two socket reads, grew once and had its bytes copied twice: 11 % of
 * a receiving server's CPU (docs/performance.md).
 */
const EAGER_BYTES = 68 * 1024;

/**
 * A pure, incremental frame parser: feed it bytes as they come (split or merged anyhow), it calls
 * back once per whole frame. Sizes are checked from the prefix, before anything is buffered, so a
 * hostile length never allocates. Any violation throws a protocol error (an RpcError) and closes
 * the decoder; the connection must be closed. Metadata over the caps is not a violation: the frame
 * is delivered with `violation` set, so that its call alone is refused.
 *
 * Frames inside one pushed chunk are handed on as views of it. A frame split over chunks is
 * copied into one buffer as its bytes arrive: a buffer of the frame's size for frames up to
 * 68 KiB, else one that doubles as it fills (up to the frame's size), so what a partial frame
 * holds is at most max(68 KiB, 2 × pendingBytes), whatever its prefix claims.
 */
export class FrameDecoder {
  private readonly maxFrameSize: number;
  private readonly limits: MetadataLimits;
  /** The first bytes of a frame while fewer than PREFIX_BYTES of it have arrived. */
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  /** The partial frame's bytes once its prefix is complete; `held` of them are filled. */
  private assembly: Buffer | undefined = undefined;
  /** Bytes of the partial frame received so far (0: none). */
  private held = 0;
  /** Bytes the partial frame takes in all, prefix included (0 while its prefix is incomplete). */
  private needed = 0;
  /** Date.now() when the partial frame's first bytes arrived. */
  private startedAt = 0;
  /** Set by close(): nothing more is parsed or handed on, not even the rest of the current chunk. */
  private closed = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.limits = metadataLimits(options);
  }

  /**
   * Bytes held while waiting for the rest of a frame: at most maxFrameSize + 6 (the 7 bytes
   * before a frame's length field are not counted in it).
   */
  get pendingBytes(): number {
    return this.held;
  }

  /**
   * Memory the partial frame takes: its assembly buffer (up to 68 KiB from its first bytes, see
   * above), else the bytes held. What a server-wide budget counts, since an 11-byte prefix of a
   * 64 KiB frame already holds 64 KiB.
   */
  get pendingCapacity(): number {
    return this.assembly === undefined ? this.held : this.assembly.length;
  }

  /** Date.now() when the first bytes of the frame now waiting for its rest arrived; 0 when none waits. */
  get pendingSince(): number {
    return this.held === 0 ? 0 : this.startedAt;
  }

  /**
   * Stops the decoder for good: frames still in the chunk being parsed are dropped and later
   * pushes are ignored. A connection calls it on a protocol violation (also from inside
   * `onFrame`), so that nothing after the violation reaches a handler.
   */
  close(): void {
    this.closed = true;
    this.dropPartial();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  push(chunk: Buffer, onFrame: (frame: Frame) => void): void {
    if (this.closed) return;
    try {
      const offset = this.held === 0 ? 0 : this.continuePartial(chunk, onFrame);
      if (!this.closed) this.parse(chunk, offset, onFrame);
    } catch (error) {
      this.close(); // a violation leaves the decoder unusable: nothing behind it is parsed
      throw error;
    }
  }

  private dropPartial(): void {
    this.assembly = undefined;
    this.held = 0;
    this.needed = 0;
    this.startedAt = 0;
  }

  /** Feeds the start of `chunk` to the partial frame; returns where in `chunk` its bytes end. */
  private continuePartial(chunk: Buffer, onFrame: (frame: Frame) => void): number {
    let offset = 0;
    if (this.needed === 0) {
      // Still inside the prefix: validate what we have so garbage fails as early as possible.
      offset = Math.min(PREFIX_BYTES - this.held, chunk.length);
      chunk.copy(this.prefix, this.held, 0, offset);
      this.held += offset;
      this.checkPrefix(this.prefix, 0, this.held);
      if (this.held < PREFIX_BYTES) return offset;
      this.needed = 7 + this.prefix.readUInt32BE(3);
      this.assembly = Buffer.allocUnsafe(this.initialCapacity(this.held + chunk.length - offset));
      this.prefix.copy(this.assembly, 0, 0, PREFIX_BYTES);
    }
    const take = Math.min(this.needed - this.held, chunk.length - offset);
    this.ensureCapacity(this.held + take);
    chunk.copy(this.assembly!, this.held, offset, offset + take);
    this.held += take;
    offset += take;
    if (this.held < this.needed) return offset;
    const whole = this.assembly!;
    this.dropPartial();
    this.deliver(whole, 0, whole.length, onFrame);
    return offset;
  }

  /** Room for a larger frame's first `have` bytes and as many again, so that fewer of them are copied when it grows. */
  private initialCapacity(have: number): number {
    return this.needed <= EAGER_BYTES ? this.needed : Math.min(this.needed, Math.max(EAGER_BYTES, 2 * have));
  }

  /** Grows the assembly buffer by doubling (never past the frame's size): copying stays linear. */
  private ensureCapacity(bytes: number): void {
    const current = this.assembly!;
    if (current.length >= bytes) return;
    const grown = Buffer.allocUnsafe(Math.min(this.needed, Math.max(bytes, current.length * 2)));
    current.copy(grown, 0, 0, this.held);
    this.assembly = grown;
  }

  private parse(buf: Buffer, offset: number, onFrame: (frame: Frame) => void): void {
    const end = buf.length;
    while (offset < end) {
      const available = end - offset;
      this.checkPrefix(buf, offset, available);
      if (available < PREFIX_BYTES) {
        buf.copy(this.prefix, 0, offset, end);
        this.startPartial(available, 0);
        return;
      }
      const frameBytes = 7 + buf.readUInt32BE(offset + 3);
      if (available < frameBytes) {
        this.startPartial(available, frameBytes);
        this.assembly = Buffer.allocUnsafe(this.initialCapacity(available));
        buf.copy(this.assembly, 0, offset, end);
        return;
      }
      this.deliver(buf, offset, offset + frameBytes, onFrame);
      offset += frameBytes;
      if (this.closed) return;
    }
  }

  private startPartial(held: number, needed: number): void {
    this.held = held;
    this.needed = needed;
    this.startedAt = Date.now();
  }

  /** Hands on the whole frame at buf[offset, end): its prefix was checked. */
  private deliver(buf: Buffer, offset: number, end: number, onFrame: (frame: Frame) => void): void {
    const headerStart = offset + PREFIX_BYTES;
    const bodyStart = headerStart + buf.readUInt32BE(offset + 7);
    const frame = new Frame();
    readHeader(buf, headerStart, bodyStart, frame, this.limits);
    frame.body = buf.subarray(bodyStart, end);
    onFrame(frame);
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
