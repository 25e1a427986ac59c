-- waent schema v1 for PostgreSQL (9.5+). Times are Unix microseconds (0 = unset);
-- key lengths are checked so a corrupted write fails loudly.
CREATE TABLE waent_account (
	id              BIGINT PRIMARY KEY CHECK (id = 1),
	wa_id           TEXT    NOT NULL,
	state           TEXT    NOT NULL,
	cc              TEXT    NOT NULL,
	phone_number    TEXT    NOT NULL,
	verified_name   TEXT    NOT NULL,
	vname           TEXT    NOT NULL,
	noise_pub       BYTEA    NOT NULL CHECK (octet_length(noise_pub) = 32),
	noise_priv      BYTEA    NOT NULL CHECK (octet_length(noise_priv) = 32),
	identity_pub    BYTEA    NOT NULL CHECK (octet_length(identity_pub) = 32),
	identity_priv   BYTEA    NOT NULL CHECK (octet_length(identity_priv) = 32),
	registration_id BIGINT NOT NULL CHECK (registration_id >= 0 AND registration_id < 4294967296),
	shards          BIGINT NOT NULL,
	created_at      BIGINT NOT NULL,
	updated_at      BIGINT NOT NULL
);

CREATE TABLE waent_prekeys (
	key_id   BIGINT PRIMARY KEY CHECK (key_id > 0 AND key_id < 16777216),
	pub      BYTEA    NOT NULL CHECK (octet_length(pub) = 32),
	priv     BYTEA    NOT NULL CHECK (octet_length(priv) = 32),
	uploaded BOOLEAN NOT NULL
);
CREATE INDEX waent_prekeys_uploaded ON waent_prekeys (uploaded, key_id);

CREATE TABLE waent_signed_prekeys (
	key_id     BIGINT PRIMARY KEY CHECK (key_id >= 0 AND key_id < 16777216),
	pub        BYTEA    NOT NULL CHECK (octet_length(pub) = 32),
	priv       BYTEA    NOT NULL CHECK (octet_length(priv) = 32),
	signature  BYTEA    NOT NULL CHECK (octet_length(signature) = 64),
	created_at BIGINT NOT NULL
);

CREATE TABLE waent_sessions (
	address   TEXT    PRIMARY KEY,
	name      TEXT    NOT NULL,
	device_id BIGINT NOT NULL,
	record    BYTEA    NOT NULL
);
CREATE INDEX waent_sessions_name ON waent_sessions (name, device_id);

CREATE TABLE waent_peer_identities (
	address      TEXT    PRIMARY KEY,
	name         TEXT    NOT NULL,
	device_id    BIGINT NOT NULL,
	identity_key BYTEA    NOT NULL CHECK (octet_length(identity_key) = 32),
	acknowledged BOOLEAN NOT NULL,
	created_at   BIGINT NOT NULL
);

CREATE TABLE waent_sender_keys (
	group_id TEXT NOT NULL,
	sender   TEXT NOT NULL,
	record   BYTEA NOT NULL,
	PRIMARY KEY (group_id, sender)
);

CREATE TABLE waent_decrypted (
	hash       BYTEA    PRIMARY KEY CHECK (octet_length(hash) = 32),
	plaintext  BYTEA    NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX waent_decrypted_created ON waent_decrypted (created_at);

CREATE TABLE waent_messages (
	id          TEXT    PRIMARY KEY,
	direction   TEXT    NOT NULL CHECK (direction IN ('in', 'out')),
	peer        TEXT    NOT NULL,
	group_id    TEXT    NOT NULL,
	type        TEXT    NOT NULL,
	payload     BYTEA,
	status      TEXT    NOT NULL,
	status_rank BIGINT NOT NULL,
	created_at  BIGINT NOT NULL,
	updated_at  BIGINT NOT NULL
);
CREATE INDEX waent_messages_prune ON waent_messages (direction, status, updated_at);
CREATE INDEX waent_messages_peer ON waent_messages (peer, created_at);

CREATE TABLE waent_message_statuses (
	id           BIGSERIAL PRIMARY KEY,
	message_id   TEXT    NOT NULL,
	status       TEXT    NOT NULL,
	at           BIGINT NOT NULL,
	error_code   BIGINT NOT NULL,
	error_detail TEXT    NOT NULL
);
CREATE INDEX waent_message_statuses_msg ON waent_message_statuses (message_id, id);

CREATE TABLE waent_outbox (
	seq             BIGSERIAL PRIMARY KEY,
	message_id      TEXT    NOT NULL UNIQUE,
	recipient       TEXT    NOT NULL,
	attempts        BIGINT NOT NULL,
	next_attempt_at BIGINT NOT NULL,
	last_error      TEXT    NOT NULL,
	created_at      BIGINT NOT NULL
);
CREATE INDEX waent_outbox_recipient ON waent_outbox (recipient, seq);
CREATE INDEX waent_outbox_due ON waent_outbox (next_attempt_at);

CREATE TABLE waent_callbacks (
	seq             BIGSERIAL PRIMARY KEY,
	kind            TEXT    NOT NULL,
	payload         BYTEA    NOT NULL,
	attempts        BIGINT NOT NULL,
	next_attempt_at BIGINT NOT NULL,
	created_at      BIGINT NOT NULL
);

CREATE TABLE waent_contacts (
	input      TEXT    PRIMARY KEY,
	wa_id      TEXT    NOT NULL,
	status     TEXT    NOT NULL,
	checked_at BIGINT NOT NULL
);
CREATE INDEX waent_contacts_checked ON waent_contacts (checked_at);

CREATE TABLE waent_settings (
	name       TEXT    PRIMARY KEY,
	version    BIGINT NOT NULL CHECK (version > 0),
	value      BYTEA    NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE waent_users (
	username             TEXT    PRIMARY KEY,
	password_hash        TEXT    NOT NULL,
	role                 TEXT    NOT NULL,
	must_change_password BOOLEAN NOT NULL,
	created_at           BIGINT NOT NULL,
	updated_at           BIGINT NOT NULL
);

CREATE TABLE waent_tokens (
	hash       BYTEA    PRIMARY KEY CHECK (octet_length(hash) = 32),
	username   TEXT    NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	revoked_at BIGINT NOT NULL
);
CREATE INDEX waent_tokens_user ON waent_tokens (username);
CREATE INDEX waent_tokens_expiry ON waent_tokens (expires_at);

CREATE TABLE waent_templates (
	namespace  TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	language   TEXT    NOT NULL,
	category   TEXT    NOT NULL,
	status     TEXT    NOT NULL,
	components BYTEA,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (namespace, name, language)
);

CREATE TABLE waent_media (
	id              TEXT    PRIMARY KEY,
	origin          TEXT    NOT NULL,
	mime_type       TEXT    NOT NULL,
	size            BIGINT NOT NULL,
	sha256          BYTEA    CHECK (sha256 IS NULL OR octet_length(sha256) = 32),
	filename        TEXT    NOT NULL,
	created_at      BIGINT NOT NULL,
	last_used_at    BIGINT NOT NULL,
	media_key       BYTEA    CHECK (media_key IS NULL OR octet_length(media_key) = 32),
	file_enc_sha256 BYTEA    CHECK (file_enc_sha256 IS NULL OR octet_length(file_enc_sha256) = 32),
	direct_path     TEXT    NOT NULL,
	uploaded_at     BIGINT NOT NULL
);
CREATE INDEX waent_media_last_used ON waent_media (last_used_at);

CREATE TABLE waent_leases (
	name       TEXT    PRIMARY KEY,
	holder     TEXT    NOT NULL,
	token      BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
