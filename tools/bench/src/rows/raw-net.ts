/**
 * The ceiling: node's `net` with no framework. Frames are `| length u32 | id u32 | JSON |`,
 * many calls share one connection and answers are matched by id. The server parses and
 * re-serialises the JSON like any RPC server would; both sides write once per tick.
 */
import net from 'node:net';
import type { EchoMessage } from '../message.js';
import type { RowImpl } from '../row.js';

const MAX_FRAME = 4 * 1024 * 1024;

/** Cuts a byte stream into frames; keeps a partial frame until the rest arrives. */
class FrameReader {
  private pending: Buffer | undefined;

  constructor(private readonly onFrame: (id: number, body: Buffer) => void) {}

  push(chunk: Buffer): void {
    let buf = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = undefined;
    let offset = 0;
    while (buf.length - offset >= 8) {
      const length = buf.readUInt32BE(offset);
      if (length < 4 || length > MAX_FRAME) throw new Error(`bad frame length ${length}`);
      if (buf.length - offset - 4 < length) break;
      this.onFrame(buf.readUInt32BE(offset + 4), buf.subarray(offset + 8, offset + 4 + length));
      offset += 4 + length;
    }
    if (offset < buf.length) this.pending = Buffer.from(buf.subarray(offset));
  }
}

function frame(id: number, json: string): Buffer {
  const size = Buffer.byteLength(json);
  const buf = Buffer.allocUnsafe(8 + size);
  buf.writeUInt32BE(4 + size, 0);
  buf.writeUInt32BE(id, 4);
  buf.write(json, 8);
  return buf;
}

/** Gathers the frames written during one tick into a single socket write. */
class Writer {
  private queue: Buffer[] = [];
  constructor(private readonly socket: net.Socket) {}

  push(buf: Buffer): void {
    if (this.queue.push(buf) === 1) process.nextTick(() => this.flush());
  }

  flush(): void {
    const queue = this.queue;
    this.queue = [];
    this.socket.write(queue.length === 1 ? queue[0]! : Buffer.concat(queue));
  }
}

export const row: RowImpl = {
  async server(env) {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.setNoDelay(true);
      const writer = new Writer(socket);
      const reader = new FrameReader((id, body) => {
        const request = JSON.parse(body.toString()) as EchoMessage;
        writer.push(frame(id, JSON.stringify(request)));
      });
      socket.on('data', (chunk) => reader.push(chunk));
      socket.on('error', () => socket.destroy());
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, env.host, resolve));
    const { port } = server.address() as net.AddressInfo;
    return {
      address: `${env.host}:${port}`,
      close: () => {
        for (const s of sockets) s.destroy();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },

  async client(env) {
    const [host, port] = env.address.split(':');
    const socket = net.connect(Number(port), host!);
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const waiting = new Map<number, (value: unknown) => void>();
    let nextId = 1;
    const writer = new Writer(socket);
    const reader = new FrameReader((id, body) => {
      const resolve = waiting.get(id);
      waiting.delete(id);
      resolve?.(JSON.parse(body.toString()));
    });
    socket.on('data', (chunk) => reader.push(chunk));
    return {
      call(message) {
        const id = nextId++ >>> 0;
        return new Promise((resolve) => {
          waiting.set(id, resolve);
          writer.push(frame(id, JSON.stringify(message)));
        });
      },
      async close() {
        socket.destroy();
      },
    };
  },
};
