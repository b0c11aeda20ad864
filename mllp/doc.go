// Package mllp is the Minimal Lower Layer Protocol transport of HL7v2: the framing of
// messages on a TCP (or TLS) stream, a Client for the sending side and a Server for the
// listening side. It knows nothing of HL7 itself: a message is bytes, and an
// acknowledgement is whatever frame comes back. It imports only the standard library.
//
// # Framing
//
// A frame is 0x0B, the message, 0x1C, 0x0D. A Reader reads frames one after another
// however the stream is cut into reads, and is lenient where senders are known to
// stray:
//
//   - Bytes before a start block are skipped, and counted in Frame.Skipped so the caller
//     can log them (a sender ending frames with 0x1C 0x0D 0x0A shows one skipped byte a
//     frame).
//   - The first 0x1C ends the message. The CR after it is taken when present and may be
//     missing: the stream may end there, or the next 0x0B follow, or other bytes (which
//     are then skipped before the next frame). The Reader never waits for that CR before
//     returning the frame, since a sender that omits it is waiting for the answer.
//   - A 0x0B inside a message is part of the message.
//   - An empty frame (0x0B 0x1C 0x0D) is returned as an empty, non-nil message. The
//     Reader does not decide what it means; a connector that gets one should answer
//     nothing (the Server writes nothing when the Handler returns nil).
//
// Limits: a message longer than the Reader's limit gives a *TooLargeError (ErrTooLarge)
// holding its first HeadSize bytes, enough to read MSH-10 and answer AR; the rest of the
// frame is read past without being kept, so the connection can go on. Memory is bounded
// by the limit plus the bufio buffer, and reading is linear in the bytes read. A stream
// that ends inside a frame gives a *TruncatedError (ErrTruncated) with the length
// received; one that ends between frames gives io.EOF.
//
// WriteFrame writes a frame in one Write and refuses a message containing 0x1C
// (ErrEndBlockInMessage), which would end its frame early.
//
// # Client
//
// A Client holds one persistent connection and sends one message at a time, waiting for
// one answer frame within the ack timeout. Any error closes the connection and the next
// Send opens a new one; retrying and backing off are the caller's, as is reading the ACK
// (MLLP does not tie an answer to its message: check MSA-2 against MSH-10). A goroutine
// per connection reads its frames, so a connection the peer closed while idle (an idle
// timeout on its side) is noticed and replaced before the next message is written to it.
//
// # Server
//
// A Server runs one goroutine per connection, so a slow or stuck sender holds up only its
// own connection. FirstFrameTimeout bounds the wait for a new connection's first frame
// to start, IdleTimeout the wait for each later one, ReadTimeout the time from its start
// block to its end, WriteTimeout the answer.
//
// Bytes that start no frame are not activity: they renew no deadline, a connection
// sending them counts as idle, and one that sends more than MaxSkippedBytes of them while
// the server waits for a frame is closed. MaxConns bounds the connections and
// MaxConnsPerAddr those from one IP address; a new connection over either limit takes
// the place of the connection (of that address, for MaxConnsPerAddr) that has waited
// longest for a frame, and is refused only when every such connection is reading or
// answering one. So idle connections, however many, never lock a sender out. Shutdown
// stops accepting, closes idle connections and waits for the frames being read or
// answered.
package mllp
