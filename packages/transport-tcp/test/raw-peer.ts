import * as net from 'node:net';
import { encodeFrame, FrameDecoder, FrameKind, type Frame } from '@svc/core/transport';

/**
 * A hand-driven client for hostile-peer tests: writes raw bytes, collects the frames the server
 * sends back, and reports when and how the connection ended. It never answers anything.
 */
export class RawPeer {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  /**
   * Date.now() when the server was seen to end the connection: the socket closed, or (for a peer
   * that keeps its own side open, or that reads) the server's FIN arrived. 0 until then.
   */
  closedAt = 0;
  readonly closed: Promise<void>;
  /** Resolves on 'close' only: the socket is gone both ways (for a half-open peer, the server reset it). */
  readonly fullyClosed: Promise<void>;
  private readonly decoder = new FrameDecoder({ maxFrameSize: 64 * 1024 * 1024 });

  private constructor(socket: net.Socket, read: boolean, endOnGoaway: boolean) {
    this.socket = socket;
    socket.on('error', () => {}); // the server may reset a hostile peer; the test looks at what it received
    if (read) {
      socket.on('data', (chunk: Buffer) => {
        try {
          this.decoder.push(chunk, (f) => {
            this.frames.push(f);
            if (endOnGoaway && f.kind === FrameKind.GOAWAY && f.status) socket.end();
          });
        } catch {
          // not our concern here
        }
      });
    }
    this.closed = new Promise((resolve) => {
      const done = (): void => {
        if (this.closedAt === 0) this.closedAt = Date.now();
        resolve();
      };
      socket.once('end', done);
      socket.once('close', done);
    });
    this.fullyClosed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /**
   * Connects. `read: false` makes a peer that never reads; `allowHalfOpen` keeps its side open
   * after the server's FIN; `endOnGoaway` ends its side on a GOAWAY that carries an error, as an
   * @svc client does, but goes on writing what it had to write.
   */
  static async connect(port: number, options: { read?: boolean; allowHalfOpen?: boolean; endOnGoaway?: boolean } = {}): Promise<RawPeer> {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: options.allowHalfOpen ?? false });
    if (options.read === false) socket.pause();
    const peer = new RawPeer(socket, options.read ?? true, options.endOnGoaway ?? false);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return peer;
  }

  write(...chunks: Uint8Array[]): void {
    if (!this.socket.destroyed && !this.socket.writableEnded) this.socket.write(Buffer.concat(chunks));
  }

  get goaway(): Frame | undefined {
    return this.frames.find((f) => f.kind === FrameKind.GOAWAY);
  }

  /** Resolves true when the server ended the connection within `ms`, false otherwise. */
  closedWithin(ms: number): Promise<boolean> {
    return within(this.closed, ms);
  }

  /** Resolves true when the socket closed both ways within `ms`, false otherwise. */
  fullyClosedWithin(ms: number): Promise<boolean> {
    return within(this.fullyClosed, ms);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A request frame with a JSON body. */
export function request(id: number, service: string, method: string, body: unknown, extra: { timeoutMs?: number } = {}): Buffer {
  return encodeFrame({ kind: FrameKind.REQUEST, id, service, method, codec: 'json', ...extra }, Buffer.from(JSON.stringify(body)));
}

/** The 11-byte prefix of a frame that claims `total` bytes after its length field, with an empty header. */
export function prefixClaiming(total: number, headerLength = 0): Buffer {
  const prefix = Buffer.alloc(11);
  prefix.write('SV', 0, 'latin1');
  prefix[2] = 1;
  prefix.writeUInt32BE(total, 3);
  prefix.writeUInt32BE(headerLength, 7);
  return prefix;
}

async function within(event: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([event.then(() => true as const), late]);
  clearTimeout(timer);
  return result;
}
