package content

// Inbound is one entry of a webhook's "messages" array (§6). FromProto
// fills Type, the type object, Context and Errors; the caller fills From,
// ID, Timestamp (Unix seconds as a string), GroupID and media IDs. Field
// order follows On-Prem's examples (from, id, timestamp, type, then the
// type object) so that the encoded JSON matches them byte for byte.
type Inbound struct {
	From      string     `json:"from,omitempty"`
	ID        string     `json:"id,omitempty"`
	Timestamp string     `json:"timestamp,omitempty"`
	Type      string     `json:"type,omitempty"`
	GroupID   string     `json:"group_id,omitempty"`
	Context   *InContext `json:"context,omitempty"`

	Text        *InText        `json:"text,omitempty"`
	Image       *InMedia       `json:"image,omitempty"`
	Audio       *InMedia       `json:"audio,omitempty"`
	Voice       *InMedia       `json:"voice,omitempty"`
	Video       *InMedia       `json:"video,omitempty"`
	Document    *InMedia       `json:"document,omitempty"`
	Sticker     *InMedia       `json:"sticker,omitempty"`
	Location    *Location      `json:"location,omitempty"`
	Contacts    []ContactCard  `json:"contacts,omitempty"`
	Button      *Button        `json:"button,omitempty"`
	Interactive *InInteractive `json:"interactive,omitempty"`
	Reaction    *Reaction      `json:"reaction,omitempty"`
	System      *System        `json:"system,omitempty"`

	Errors   []Error   `json:"errors,omitempty"`
	Identity *Identity `json:"identity,omitempty"`
}

// InText is a received text.
type InText struct {
	Body string `json:"body"`
}

// InMedia is received media. SHA256 is the hex SHA-256 of the plaintext
// file, as On-Prem reports it; ID is assigned by the media layer.
type InMedia struct {
	ID       string `json:"id,omitempty"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
}

// InContext says what a received message replies to or that it was
// forwarded. From is the wa_id of the quoted message's sender.
type InContext struct {
	From                string   `json:"from,omitempty"`
	GroupID             string   `json:"group_id,omitempty"`
	ID                  string   `json:"id,omitempty"`
	Mentions            []string `json:"mentions,omitempty"`
	Forwarded           bool     `json:"forwarded,omitempty"`
	FrequentlyForwarded bool     `json:"frequently_forwarded,omitempty"`
}

// Button is the reply to a template quick-reply button.
type Button struct {
	Payload string `json:"payload,omitempty"`
	Text    string `json:"text,omitempty"`
}

// InInteractive is the reply to an interactive message: Type is
// "button_reply" or "list_reply".
type InInteractive struct {
	Type        string       `json:"type"`
	ButtonReply *ButtonReply `json:"button_reply,omitempty"`
	ListReply   *ListReply   `json:"list_reply,omitempty"`
}

// ListReply is the chosen row of a list.
type ListReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// System is a system message such as user_changed_number. Identity is the
// new identity hash of user_identity_changed (field name unconfirmed).
type System struct {
	Body     string `json:"body,omitempty"`
	NewWAID  string `json:"new_wa_id,omitempty"`
	Type     string `json:"type,omitempty"`
	Identity string `json:"identity,omitempty"`
}

// Identity is the sender's identity state when identity checks apply.
type Identity struct {
	Acknowledged     bool   `json:"acknowledged"`
	CreatedTimestamp int64  `json:"created_timestamp,omitempty"`
	Hash             string `json:"hash,omitempty"`
}
