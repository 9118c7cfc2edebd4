import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Compression } from '../wire/header.js';
import { corruptCompressedBody } from '../errors/framework-errors.js';

export type CompressionAlgorithm = 'gzip' | 'deflate';

export interface CompressionOptions {
  algorithm: CompressionAlgorithm;
  /** Bodies smaller than this many bytes are sent as they are. Default 1024. */
  threshold?: number;
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);
const deflate = promisify(zlib.deflate);
const inflate = promisify(zlib.inflate);

/** Decides per body whether to compress, and does it off the event loop (zlib's thread pool). */
export class Compressor {
  readonly flag: Compression;
  private readonly threshold: number;

  constructor(options: CompressionOptions | undefined) {
    this.flag = options === undefined ? Compression.NONE : options.algorithm === 'gzip' ? Compression.GZIP : Compression.DEFLATE;
    this.threshold = options?.threshold ?? 1024;
  }

  /** True when this body should be compressed before sending. */
  wants(body: Uint8Array): boolean {
    return this.flag !== Compression.NONE && body.length >= this.threshold;
  }

  compress(body: Uint8Array): Promise<Uint8Array> {
    return this.flag === Compression.GZIP ? gzip(body) : deflate(body);
  }
}

export async function decompress(flag: Compression, body: Uint8Array): Promise<Uint8Array> {
  try {
    if (flag === Compression.GZIP) return await gunzip(body);
    if (flag === Compression.DEFLATE) return await inflate(body);
  } catch (error) {
    throw corruptCompressedBody(flag === Compression.GZIP ? 'gzip' : 'deflate', error);
  }
  throw corruptCompressedBody(`compression #${flag}`, new Error('unknown compression flag'));
}
