package store

// Validate reports whether s can be stored.
func (s Session) Validate() error {
	if err := s.Address.validate(); err != nil {
		return err
	}
	if len(s.Record) == 0 {
		return Invalidf("session %s: empty record", s.Address)
	}
	return nil
}

// Validate reports whether e can be applied.
func (e StatusEvent) Validate() error {
	if e.MessageID == "" || len(e.MessageID) > MaxIDLen {
		return Invalidf("status: message id must be 1..%d bytes", MaxIDLen)
	}
	if !e.Status.Valid() {
		return Invalidf("status %s: unknown status %q", e.MessageID, e.Status)
	}
	if e.At.IsZero() {
		return Invalidf("status %s: no time", e.MessageID)
	}
	if e.Direction != "" && !e.Direction.Valid() {
		return Invalidf("status %s: unknown direction condition %q", e.MessageID, e.Direction)
	}
	return nil
}

// ValidateSenderKey reports whether a sender-key record can be stored.
func ValidateSenderKey(groupID, sender string, record []byte) error {
	if groupID == "" || len(groupID) > 128 || sender == "" || len(sender) > 160 {
		return Invalidf("sender key: group id (1..128) and sender (1..160) are required")
	}
	if len(record) == 0 {
		return Invalidf("sender key %s/%s: empty record", groupID, sender)
	}
	return nil
}

// ValidateName reports whether a settings or lease name (or a lease holder)
// can be stored: 1..64 bytes.
func ValidateName(what, name string) error {
	if name == "" || len(name) > 64 {
		return Invalidf("%s must be 1..64 bytes, got %d", what, len(name))
	}
	return nil
}
