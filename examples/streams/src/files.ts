import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Method, RpcError, Service, type CallContext } from '@svc/core';

export interface Chunk {
  /** The file's name, on the first chunk. */
  name?: string;
  data: Uint8Array;
}

export interface Stored {
  name: string;
  bytes: number;
  sha256: string;
}

/** The most an upload may bring; beyond, it is refused mid-stream. */
const MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;

/**
 * Stores uploads: `upload` is a client stream. The client's chunks arrive as the server reads
 * them (its window is the flow control: a slow disk slows the sender), and the answer comes once
 * the stream ended.
 */
@Service('Files')
export class Files {
  constructor(private readonly directory: string) {}

  @Method()
  async upload(chunks: AsyncIterable<Chunk>, ctx: CallContext): Promise<Stored> {
    let name: string | undefined;
    let file: Awaited<ReturnType<typeof open>> | undefined;
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of chunks) {
        if (file === undefined) {
          name = chunk.name;
          if (name === undefined || !/^[\w.-]{1,100}$/.test(name)) throw new RpcError('INVALID_ARGUMENT', 'the first chunk names the file: letters, digits, ".", "-" or "_", at most 100');
          file = await open(join(this.directory, name), 'w');
        }
        bytes += chunk.data.length;
        if (bytes > MAX_UPLOAD_BYTES) throw new RpcError('RESOURCE_EXHAUSTED', `an upload may bring at most ${MAX_UPLOAD_BYTES} bytes`);
        hash.update(chunk.data);
        await file.write(chunk.data);
      }
    } finally {
      await file?.close();
    }
    if (name === undefined) throw new RpcError('INVALID_ARGUMENT', 'an upload needs at least one chunk, naming the file');
    ctx.signal.throwIfAborted();
    return { name, bytes, sha256: hash.digest('hex') };
  }
}
