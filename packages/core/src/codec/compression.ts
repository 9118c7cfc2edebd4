import { constants as bufferConstants } from 'node:buffer';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { Compression } from '../wire/header.js';
import { corruptCompressedBody, decompressedTooLarge } from '../errors/framework-errors.js';
import { DEFAULT_MAX_FRAME_SIZE } from '../wire/frame.js';

export type CompressionAlgorithm = 'gzip' | 'deflate';

export interface CompressionOptions {
  algorithm: CompressionAlgorithm;
  /** Bodies smaller than this many bytes are sent as they are. Default 1024. */
  threshold?: number;
}

/** The most a compressed body may inflate to unless a side says otherwise: the frame size. */
export const DEFAULT_MAX_DECOMPRESSED_SIZE = DEFAULT_MAX_FRAME_SIZE;

/** A maxDecompressedSize option as zlib takes it: the default when unset, Infinity as Node's largest Buffer. */
export function resolveMaxDecompressedSize(option: number | undefined): number {
  if (option === undefined || Number.isNaN(option)) return DEFAULT_MAX_DECOMPRESSED_SIZE;
  return Math.min(Math.max(1, Math.floor(option)), bufferConstants.MAX_LENGTH);
}

const gzip = promisify(zlib.gzip);
const gunzip = promisify<zlib.InputType, zlib.ZlibOptions, Buffer>(zlib.gunzip);
const deflate = promisify(zlib.deflate);
const inflate = promisify<zlib.InputType, zlib.ZlibOptions, Buffer>(zlib.inflate);

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

// zlib only reads its options: one object serves every call with the same limit.
let lastOptions: zlib.ZlibOptions = { maxOutputLength: DEFAULT_MAX_DECOMPRESSED_SIZE };

function zlibOptions(maxBytes: number): zlib.ZlibOptions {
  if (lastOptions.maxOutputLength !== maxBytes) lastOptions = { maxOutputLength: maxBytes };
  return lastOptions;
}

/**
 * Inflates a body on zlib's thread pool, stopping as soon as the output would exceed `maxBytes`
 * (zlib's maxOutputLength): a small bomb costs at most `maxBytes` of memory and never blocks
 * the event loop. Over the limit: RESOURCE_EXHAUSTED; not a valid stream: DATA_LOSS.
 */
export async function decompress(flag: Compression, body: Uint8Array, maxBytes: number = DEFAULT_MAX_DECOMPRESSED_SIZE): Promise<Uint8Array> {
  const algorithm = flag === Compression.GZIP ? 'gzip' : 'deflate';
  try {
    if (flag === Compression.GZIP) return await gunzip(body, zlibOptions(maxBytes));
    if (flag === Compression.DEFLATE) return await inflate(body, zlibOptions(maxBytes));
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === 'ERR_BUFFER_TOO_LARGE') throw decompressedTooLarge(algorithm, maxBytes);
    throw corruptCompressedBody(algorithm, error);
  }
  throw corruptCompressedBody(`compression #${flag}`, new Error('unknown compression flag'));
}
