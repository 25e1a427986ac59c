package crypto

import (
	"crypto/aes"
	"errors"
	"fmt"

	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/state/record"

	"github.com/waent/waent/store"
)

// serialisedKeyLen is a public key as libsignal embeds it: type byte + key.
const serialisedKeyLen = 1 + store.KeyLen

// decodeSession turns a stored record into a live one. libsignal's own
// NewSessionFromBytes indexes into fields it has not checked (a record
// without a current state, or with an empty key, panics), so the structure
// is checked here first: a damaged row is an error, not a crash.
func (s *Signal) decodeSession(b []byte) (*record.Session, error) {
	st, err := s.ser.Session.Deserialize(b)
	if err != nil {
		return nil, err
	}
	if err := checkSessionStructure(st); err != nil {
		return nil, err
	}
	return record.NewSessionFromStructure(st, s.ser.Session, s.ser.State)
}

// sessionFromStructure rebuilds a live record from a snapshot taken with
// (*record.Session).Structure. The snapshot owns fresh slices for
// everything libsignal changes in place (message key lists, chain lists)
// and the key bytes it shares with the original are never written to, so
// the rebuilt record and the original evolve independently.
func (s *Signal) sessionFromStructure(st *record.SessionStructure) (*record.Session, error) {
	return record.NewSessionFromStructure(st, s.ser.Session, s.ser.State)
}

func checkSessionStructure(st *record.SessionStructure) error {
	if st.SessionState == nil {
		return errors.New("session record has no current state")
	}
	if err := checkState(st.SessionState); err != nil {
		return fmt.Errorf("current state: %w", err)
	}
	for i, ps := range st.PreviousStates {
		if ps == nil {
			return fmt.Errorf("previous state %d is empty", i)
		}
		if err := checkState(ps); err != nil {
			return fmt.Errorf("previous state %d: %w", i, err)
		}
	}
	return nil
}

func checkState(st *record.StateStructure) error {
	switch {
	case len(st.LocalIdentityPublic) != serialisedKeyLen:
		return errors.New("bad local identity key")
	case len(st.RemoteIdentityPublic) != serialisedKeyLen:
		return errors.New("bad remote identity key")
	case len(st.SenderBaseKey) != serialisedKeyLen:
		return errors.New("bad sender base key")
	case st.PendingPreKey != nil && len(st.PendingPreKey.BaseKey) != serialisedKeyLen:
		return errors.New("bad pending prekey base key")
	case st.SenderChain == nil:
		return errors.New("no sender chain")
	}
	if err := checkChain(st.SenderChain); err != nil {
		return fmt.Errorf("sender chain: %w", err)
	}
	for i, c := range st.ReceiverChains {
		if c == nil {
			return fmt.Errorf("receiver chain %d is empty", i)
		}
		if err := checkChain(c); err != nil {
			return fmt.Errorf("receiver chain %d: %w", i, err)
		}
	}
	return nil
}

func checkChain(c *record.ChainStructure) error {
	if len(c.SenderRatchetKeyPublic) != serialisedKeyLen {
		return errors.New("bad ratchet key")
	}
	if c.ChainKey == nil {
		return errors.New("no chain key")
	}
	for _, mk := range c.MessageKeys {
		if mk == nil {
			return errors.New("empty message key")
		}
	}
	return nil
}

// parse decodes an untrusted <enc>; every error wraps ErrDecrypt.
func (s *Signal) parse(ct Ciphertext) (received, error) {
	var r received
	var err error
	switch ct.Type {
	case TypePreKey:
		r.pre, err = s.parsePreKeyMessage(ct.Data)
	case TypeMsg:
		r.msg, err = s.parseSignalMessage(ct.Data)
	default:
		return r, fmt.Errorf("%w: unknown enc type %q", ErrDecrypt, ct.Type)
	}
	if err != nil {
		return r, fmt.Errorf("%w: %s: %w", ErrDecrypt, ct.Type, err)
	}
	return r, nil
}

// parseSignalMessage decodes an untrusted "msg" body. libsignal panics on
// an empty ratchet key (it reads byte 0 unchecked) and, once the MAC has
// passed, on a ciphertext that is not whole AES blocks (CBC CryptBlocks
// panics), which a malicious peer can produce; both are refused here
// before libsignal sees them.
func (s *Signal) parseSignalMessage(b []byte) (*protocol.SignalMessage, error) {
	st, err := s.ser.SignalMessage.Deserialize(b)
	if err != nil {
		return nil, err
	}
	if err := checkSignalStructure(st); err != nil {
		return nil, err
	}
	return protocol.NewSignalMessageFromStruct(st, s.ser.SignalMessage)
}

func checkSignalStructure(st *protocol.SignalMessageStructure) error {
	switch {
	case len(st.RatchetKey) != serialisedKeyLen:
		return fmt.Errorf("ratchet key is %d bytes", len(st.RatchetKey))
	case len(st.CipherText) == 0 || len(st.CipherText)%aes.BlockSize != 0:
		return fmt.Errorf("ciphertext of %d bytes is not whole AES blocks", len(st.CipherText))
	case len(st.Mac) != protocol.MacLength:
		return errors.New("bad MAC length")
	}
	return nil
}

// parsePreKeyMessage decodes an untrusted "pkmsg" body, with the same
// guards as parseSignalMessage for its keys and embedded message.
func (s *Signal) parsePreKeyMessage(b []byte) (*protocol.PreKeySignalMessage, error) {
	st, err := s.ser.PreKeySignalMessage.Deserialize(b)
	if err != nil {
		return nil, err
	}
	switch {
	case len(st.BaseKey) != serialisedKeyLen:
		return nil, fmt.Errorf("base key is %d bytes", len(st.BaseKey))
	case len(st.IdentityKey) != serialisedKeyLen:
		return nil, fmt.Errorf("identity key is %d bytes", len(st.IdentityKey))
	}
	inner, err := s.ser.SignalMessage.Deserialize(st.Message)
	if err != nil {
		return nil, fmt.Errorf("embedded message: %w", err)
	}
	if err := checkSignalStructure(inner); err != nil {
		return nil, fmt.Errorf("embedded message: %w", err)
	}
	return protocol.NewPreKeySignalMessageFromStruct(st, s.ser.PreKeySignalMessage, s.ser.SignalMessage)
}
