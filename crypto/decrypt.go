package crypto

import (
	"context"
	"errors"
	"fmt"

	"go.mau.fi/libsignal/protocol"
	"go.mau.fi/libsignal/session"
	"go.mau.fi/libsignal/signalerror"
	"go.mau.fi/libsignal/state/record"
)

// archivedStatesMax is how many old states a session record keeps, as
// libsignal does.
const archivedStatesMax = 40

// decryptMessage decrypts a SignalMessage ("msg") from an existing session
// through the Batch's view: the same steps as libsignal's Cipher.Decrypt,
// with the state handling of decryptWithRecord.
func (b *Batch) decryptMessage(ctx context.Context, c *session.Cipher, a *protocol.SignalAddress, msg *protocol.SignalMessage) ([]byte, error) {
	rec, err := b.v.LoadSession(ctx, a)
	if err != nil {
		return nil, err
	}
	padded, rec, err := b.sig.decryptWithRecord(ctx, c, rec, msg)
	if err != nil {
		return nil, err
	}
	// Trust is given (see view.IsTrustedIdentity); the key of the state
	// that decrypted is the peer's identity now.
	if err := b.v.SaveIdentity(ctx, a, rec.SessionState().RemoteIdentityKey()); err != nil {
		return nil, err
	}
	return padded, b.v.StoreSession(ctx, a, rec)
}

// decryptPreKeyMessage decrypts a PreKeySignalMessage ("pkmsg"): the
// builder sets up (or finds) the state its base key names, then the
// carried message is decrypted as decryptMessage does.
func (b *Batch) decryptPreKeyMessage(ctx context.Context, bld *session.Builder, c *session.Cipher, a *protocol.SignalAddress, pre *protocol.PreKeySignalMessage) ([]byte, error) {
	rec, err := b.v.LoadSession(ctx, a)
	if err != nil {
		return nil, err
	}
	preKeyID, err := bld.Process(ctx, rec, pre)
	if err != nil {
		return nil, err
	}
	padded, rec, err := b.sig.decryptWithRecord(ctx, c, rec, pre.WhisperMessage())
	if err != nil {
		return nil, err
	}
	if err := b.v.StoreSession(ctx, a, rec); err != nil {
		return nil, err
	}
	if preKeyID != nil && !preKeyID.IsEmpty {
		if err := b.v.RemovePreKey(ctx, preKeyID.Value); err != nil {
			return nil, err
		}
	}
	return padded, nil
}

// decryptWithRecord decrypts msg with the state of rec it belongs to and
// returns the record as it must be stored (rec itself, or a rebuilt one
// when an archived state was promoted).
//
// We do not use libsignal's Cipher.DecryptWithRecord because it tries the
// current state in place: for a message on an archived state,
// getOrCreateChainKey has already performed a ratchet step on the current
// state (new root key, receiver chain and sender chain from the foreign
// ratchet key) before the MAC check fails, and that broken state is then
// archived and, when promoted again, used to send messages the peer cannot
// read. That happens whenever both sides start a session at the same time.
// It also removes the promoted state from the archive by shifting the
// record's own slice in place, duplicating another. Here every attempt
// that might ratchet runs on a copy, as the Signal reference
// implementation does.
func (s *Signal) decryptWithRecord(ctx context.Context, c *session.Cipher, rec *record.Session, msg *protocol.SignalMessage) ([]byte, *record.Session, error) {
	cur := rec.SessionState()
	if cur.HasSenderChain() && cur.HasReceiverChain(msg.SenderRatchetKey()) {
		// The current state already follows this ratchet key: the message
		// is on its chain and no other state can claim it. A failure here
		// is the message's; the Batch rolls the record back.
		padded, _, err := c.DecryptWithState(ctx, cur, msg)
		return padded, rec, err
	}
	try := func(st *record.State) (*record.State, []byte, error) {
		cp, err := record.NewStateFromStructure(stateStructure(st, s), s.ser.State)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: copy session state: %w", ErrDecrypt, err)
		}
		padded, _, err := c.DecryptWithState(ctx, cp, msg)
		return cp, padded, err
	}
	if cur.HasSenderChain() {
		cp, padded, err := try(cur)
		if err == nil {
			rec.SetState(cp)
			return padded, rec, nil
		}
		if errors.Is(err, signalerror.ErrOldCounter) {
			return nil, nil, err
		}
	}
	prev := rec.PreviousSessionStates()
	for i, st := range prev {
		if !st.HasSenderChain() {
			continue
		}
		cp, padded, err := try(st)
		if errors.Is(err, signalerror.ErrOldCounter) {
			return nil, nil, err
		}
		if err != nil {
			continue
		}
		// Promote: the decrypting state becomes current, the old current
		// heads the archive, and the promoted one leaves it. The record
		// is rebuilt from structures: libsignal has no way to remove one
		// archived state.
		all := rec.Structure()
		archive := make([]*record.StateStructure, 0, len(prev))
		if cur.HasSenderChain() {
			archive = append(archive, all.SessionState)
		}
		for j, p := range all.PreviousStates {
			if j != i {
				archive = append(archive, p)
			}
		}
		if len(archive) > archivedStatesMax {
			archive = archive[:archivedStatesMax]
		}
		nrec, err := s.sessionFromStructure(&record.SessionStructure{SessionState: stateStructure(cp, s), PreviousStates: archive})
		if err != nil {
			return nil, nil, fmt.Errorf("%w: rebuild session: %w", ErrDecrypt, err)
		}
		return padded, nrec, nil
	}
	return nil, nil, signalerror.ErrNoValidSessions
}

// stateStructure is st's serialisable form; libsignal exposes it only
// through a record.
func stateStructure(st *record.State, s *Signal) *record.StateStructure {
	return record.NewSessionFromState(st, s.ser.Session).Structure().SessionState
}
