package noise

import "errors"

// Errors. Functions wrap them with %w and add detail, so test with
// errors.Is.
var (
	// ErrFrameTooLarge: a frame's length exceeds MaxFrameSize, or the
	// smaller limit configured for reading.
	ErrFrameTooLarge = errors.New("noise: frame too large")
	// ErrDecrypt: a handshake or transport message failed authentication.
	// On a Socket it is fatal.
	ErrDecrypt = errors.New("noise: message failed authentication")
	// ErrCertificate: the server's certificate chain did not verify.
	ErrCertificate = errors.New("noise: invalid server certificate")
	// ErrHandshake: a handshake message or the connection header was
	// malformed.
	ErrHandshake = errors.New("noise: malformed handshake")
	// ErrRejected: the server's Authenticate callback refused the client.
	ErrRejected = errors.New("noise: client rejected")
	// ErrCounterExhausted: a direction used all 2^32 nonces; WhatsApp's
	// transport has no rekey, so the connection must be replaced.
	ErrCounterExhausted = errors.New("noise: nonce counter exhausted")
	// ErrClosed: the Socket was closed by Close.
	ErrClosed = errors.New("noise: socket closed")
)
