-- waent schema v1 for SQLite. Times are Unix microseconds (0 = unset);
-- key lengths are checked so a corrupted write fails loudly.
CREATE TABLE waent_account (
	id              INTEGER PRIMARY KEY CHECK (id = 1),
	wa_id           TEXT    NOT NULL,
	state           TEXT    NOT NULL,
	cc              TEXT    NOT NULL,
	phone_number    TEXT    NOT NULL,
	verified_name   TEXT    NOT NULL,
	vname           TEXT    NOT NULL,
	noise_pub       BLOB    NOT NULL CHECK (length(noise_pub) = 32),
	noise_priv      BLOB    NOT NULL CHECK (length(noise_priv) = 32),
	identity_pub    BLOB    NOT NULL CHECK (length(identity_pub) = 32),
	identity_priv   BLOB    NOT NULL CHECK (length(identity_priv) = 32),
	registration_id INTEGER NOT NULL CHECK (registration_id >= 0 AND registration_id < 4294967296),
	shards          INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);

CREATE TABLE waent_prekeys (
	key_id   INTEGER PRIMARY KEY CHECK (key_id > 0 AND key_id < 16777216),
	pub      BLOB    NOT NULL CHECK (length(pub) = 32),
	priv     BLOB    NOT NULL CHECK (length(priv) = 32),
	uploaded BOOLEAN NOT NULL
);
CREATE INDEX waent_prekeys_uploaded ON waent_prekeys (uploaded, key_id);

CREATE TABLE waent_signed_prekeys (
	key_id     INTEGER PRIMARY KEY CHECK (key_id >= 0 AND key_id < 16777216),
	pub        BLOB    NOT NULL CHECK (length(pub) = 32),
	priv       BLOB    NOT NULL CHECK (length(priv) = 32),
	signature  BLOB    NOT NULL CHECK (length(signature) = 64),
	created_at INTEGER NOT NULL
);

CREATE TABLE waent_sessions (
	address   TEXT    PRIMARY KEY,
	name      TEXT    NOT NULL,
	device_id INTEGER NOT NULL,
	record    BLOB    NOT NULL
);
CREATE INDEX waent_sessions_name ON waent_sessions (name, device_id);

CREATE TABLE waent_peer_identities (
	address      TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL,
	device_id    INTEGER NOT NULL,
	identity_key BLOB    NOT NULL CHECK (length(identity_key) = 32),
	acknowledged BOOLEAN NOT NULL,
	created_at   INTEGER NOT NULL
);

CREATE TABLE waent_sender_keys (
	group_id TEXT NOT NULL,
	sender   TEXT NOT NULL,
	record   BLOB NOT NULL,
	PRIMARY KEY (group_id, sender)
);

CREATE TABLE waent_decrypted (
	hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
	plaintext  BLOB    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX waent_decrypted_created ON waent_decrypted (created_at);

CREATE TABLE waent_messages (
	id          TEXT    PRIMARY KEY,
	direction   TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
	peer        TEXT    NOT NULL,
	group_id    TEXT    NOT NULL,
	type        TEXT    NOT NULL,
	payload     BLOB,
	status      TEXT    NOT NULL,
	status_rank INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
);
CREATE INDEX waent_messages_prune ON waent_messages (direction, status, updated_at);
CREATE INDEX waent_messages_peer ON waent_messages (peer, created_at);

CREATE TABLE waent_message_statuses (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id   TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	at           INTEGER NOT NULL,
	error_code   INTEGER NOT NULL,
	error_detail TEXT    NOT NULL
);
CREATE INDEX waent_message_statuses_msg ON waent_message_statuses (message_id, id);

CREATE TABLE waent_outbox (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id      TEXT    NOT NULL UNIQUE,
	recipient       TEXT    NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	last_error      TEXT    NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE INDEX waent_outbox_recipient ON waent_outbox (recipient, seq);
CREATE INDEX waent_outbox_due ON waent_outbox (next_attempt_at);

CREATE TABLE waent_callbacks (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	kind            TEXT    NOT NULL,
	payload         BLOB    NOT NULL,
	attempts        INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	created_at      INTEGER NOT NULL
);

CREATE TABLE waent_contacts (
	input      TEXT    PRIMARY KEY,
	wa_id      TEXT    NOT NULL,
	status     TEXT    NOT NULL,
	checked_at INTEGER NOT NULL
);
CREATE INDEX waent_contacts_checked ON waent_contacts (checked_at);

CREATE TABLE waent_settings (
	name       TEXT    PRIMARY KEY,
	version    INTEGER NOT NULL CHECK (version > 0),
	value      BLOB    NOT NULL,
	updated_at INTEGER NOT NULL
);

CREATE TABLE waent_users (
	username             TEXT    PRIMARY KEY,
	password_hash        TEXT    NOT NULL,
	role                 TEXT    NOT NULL,
	must_change_password BOOLEAN NOT NULL,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL
);

CREATE TABLE waent_tokens (
	hash       BLOB    PRIMARY KEY CHECK (length(hash) = 32),
	username   TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER NOT NULL
);
CREATE INDEX waent_tokens_user ON waent_tokens (username);
CREATE INDEX waent_tokens_expiry ON waent_tokens (expires_at);

CREATE TABLE waent_templates (
	namespace  TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	language   TEXT    NOT NULL,
	category   TEXT    NOT NULL,
	status     TEXT    NOT NULL,
	components BLOB,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (namespace, name, language)
);

CREATE TABLE waent_media (
	id              TEXT    PRIMARY KEY,
	origin          TEXT    NOT NULL,
	mime_type       TEXT    NOT NULL,
	size            INTEGER NOT NULL,
	sha256          BLOB    CHECK (sha256 IS NULL OR length(sha256) = 32),
	filename        TEXT    NOT NULL,
	created_at      INTEGER NOT NULL,
	last_used_at    INTEGER NOT NULL,
	media_key       BLOB    CHECK (media_key IS NULL OR length(media_key) = 32),
	file_enc_sha256 BLOB    CHECK (file_enc_sha256 IS NULL OR length(file_enc_sha256) = 32),
	direct_path     TEXT    NOT NULL,
	uploaded_at     INTEGER NOT NULL
);
CREATE INDEX waent_media_last_used ON waent_media (last_used_at);

CREATE TABLE waent_leases (
	name       TEXT    PRIMARY KEY,
	holder     TEXT    NOT NULL,
	token      INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
);
