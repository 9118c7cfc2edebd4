/**
 * A stream over NATS travels as NATS messages of its own, each direction of each stream on one
 * subject (subjects.ts). A message is
 *
 *   | sequence number 4B | the next bytes of this direction's @svc frames |
 *
 * The sequence number (big-endian uint32) counts this direction's messages from 0, so that the
 * receiver sees a message that NATS core dropped (it delivers at most once) as a gap, and ends the
 * stream instead of delivering it with a hole. The frames (MESSAGE, WINDOW, END, CANCEL, and the
 * REQUEST that opens the stream) are the wire's own; they form one byte stream per direction, cut
 * into messages of at most the NATS server's max_payload, so a frame larger than max_payload is
 * split over several messages and joined on the far side. A message with no frame bytes is a
 * heartbeat. Its reply subject is the sender's own subject of the stream: the peer learns from it
 * where to send (the client, from the server's first message), and the NATS server answers no
 * responders there when the peer's subscription is gone.
 */
export const SEQ_BYTES = 4;
