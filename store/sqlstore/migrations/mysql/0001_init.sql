-- waent schema v1 for MySQL 5.7/8.0 and MariaDB 10.2+. Times are Unix
-- microseconds (0 = unset). DDL is not transactional here, so every
-- statement is idempotent (IF NOT EXISTS, indexes inline) and a migration
-- interrupted half-way completes on the next open. Tables use utf8mb4_bin:
-- ids are case-sensitive. CHECK constraints are enforced by MySQL 8.0.16+
-- and MariaDB 10.2+; MySQL 5.7 parses and ignores them.
CREATE TABLE IF NOT EXISTS waent_account (
	id              INT             NOT NULL PRIMARY KEY CHECK (id = 1),
	wa_id           VARCHAR(128)    NOT NULL,
	state           VARCHAR(32)     NOT NULL,
	cc              VARCHAR(8)      NOT NULL,
	phone_number    VARCHAR(32)     NOT NULL,
	verified_name   TEXT            NOT NULL,
	vname           VARCHAR(255)    NOT NULL,
	noise_pub       VARBINARY(32)   NOT NULL CHECK (LENGTH(noise_pub) = 32),
	noise_priv      VARBINARY(32)   NOT NULL CHECK (LENGTH(noise_priv) = 32),
	identity_pub    VARBINARY(32)   NOT NULL CHECK (LENGTH(identity_pub) = 32),
	identity_priv   VARBINARY(32)   NOT NULL CHECK (LENGTH(identity_priv) = 32),
	registration_id BIGINT UNSIGNED NOT NULL CHECK (registration_id < 4294967296),
	shards          INT             NOT NULL,
	created_at      BIGINT          NOT NULL,
	updated_at      BIGINT          NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_prekeys (
	key_id   INT UNSIGNED  NOT NULL PRIMARY KEY CHECK (key_id > 0 AND key_id < 16777216),
	pub      VARBINARY(32) NOT NULL CHECK (LENGTH(pub) = 32),
	priv     VARBINARY(32) NOT NULL CHECK (LENGTH(priv) = 32),
	uploaded BOOLEAN       NOT NULL,
	INDEX waent_prekeys_uploaded (uploaded, key_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_signed_prekeys (
	key_id     INT UNSIGNED  NOT NULL PRIMARY KEY CHECK (key_id < 16777216),
	pub        VARBINARY(32) NOT NULL CHECK (LENGTH(pub) = 32),
	priv       VARBINARY(32) NOT NULL CHECK (LENGTH(priv) = 32),
	signature  VARBINARY(64) NOT NULL CHECK (LENGTH(signature) = 64),
	created_at BIGINT        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_sessions (
	address   VARCHAR(160) NOT NULL PRIMARY KEY,
	name      VARCHAR(128) NOT NULL,
	device_id INT UNSIGNED NOT NULL,
	record    LONGBLOB     NOT NULL,
	INDEX waent_sessions_name (name, device_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_peer_identities (
	address      VARCHAR(160)  NOT NULL PRIMARY KEY,
	name         VARCHAR(128)  NOT NULL,
	device_id    INT UNSIGNED  NOT NULL,
	identity_key VARBINARY(32) NOT NULL CHECK (LENGTH(identity_key) = 32),
	acknowledged BOOLEAN       NOT NULL,
	created_at   BIGINT        NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_sender_keys (
	group_id VARCHAR(128) NOT NULL,
	sender   VARCHAR(160) NOT NULL,
	record   LONGBLOB     NOT NULL,
	PRIMARY KEY (group_id, sender)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_decrypted (
	hash       VARBINARY(32) NOT NULL PRIMARY KEY CHECK (LENGTH(hash) = 32),
	plaintext  LONGBLOB      NOT NULL,
	created_at BIGINT        NOT NULL,
	INDEX waent_decrypted_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_messages (
	id          VARCHAR(128) NOT NULL PRIMARY KEY,
	direction   VARCHAR(3)   NOT NULL CHECK (direction IN ('in', 'out')),
	peer        VARCHAR(128) NOT NULL,
	group_id    VARCHAR(128) NOT NULL,
	type        VARCHAR(32)  NOT NULL,
	payload     LONGBLOB,
	status      VARCHAR(16)  NOT NULL,
	status_rank SMALLINT     NOT NULL,
	created_at  BIGINT       NOT NULL,
	updated_at  BIGINT       NOT NULL,
	INDEX waent_messages_prune (direction, status, updated_at),
	INDEX waent_messages_peer (peer, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_message_statuses (
	id           BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	message_id   VARCHAR(128) NOT NULL,
	status       VARCHAR(16)  NOT NULL,
	at           BIGINT       NOT NULL,
	error_code   INT          NOT NULL,
	error_detail TEXT         NOT NULL,
	INDEX waent_message_statuses_msg (message_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_outbox (
	seq             BIGINT       NOT NULL AUTO_INCREMENT PRIMARY KEY,
	message_id      VARCHAR(128) NOT NULL,
	recipient       VARCHAR(128) NOT NULL,
	attempts        INT          NOT NULL,
	next_attempt_at BIGINT       NOT NULL,
	last_error      TEXT         NOT NULL,
	created_at      BIGINT       NOT NULL,
	UNIQUE INDEX waent_outbox_message (message_id),
	INDEX waent_outbox_recipient (recipient, seq),
	INDEX waent_outbox_due (next_attempt_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_callbacks (
	seq             BIGINT      NOT NULL AUTO_INCREMENT PRIMARY KEY,
	kind            VARCHAR(32) NOT NULL,
	payload         LONGBLOB    NOT NULL,
	attempts        INT         NOT NULL,
	next_attempt_at BIGINT      NOT NULL,
	created_at      BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_contacts (
	input      VARCHAR(255) NOT NULL PRIMARY KEY,
	wa_id      VARCHAR(128) NOT NULL,
	status     VARCHAR(16)  NOT NULL,
	checked_at BIGINT       NOT NULL,
	INDEX waent_contacts_checked (checked_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_settings (
	name       VARCHAR(64) NOT NULL PRIMARY KEY,
	version    BIGINT      NOT NULL CHECK (version > 0),
	value      LONGBLOB    NOT NULL,
	updated_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_users (
	username             VARCHAR(64) NOT NULL PRIMARY KEY,
	password_hash        TEXT        NOT NULL,
	role                 VARCHAR(16) NOT NULL,
	must_change_password BOOLEAN     NOT NULL,
	created_at           BIGINT      NOT NULL,
	updated_at           BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_tokens (
	hash       VARBINARY(32) NOT NULL PRIMARY KEY CHECK (LENGTH(hash) = 32),
	username   VARCHAR(64)   NOT NULL,
	created_at BIGINT        NOT NULL,
	expires_at BIGINT        NOT NULL,
	revoked_at BIGINT        NOT NULL,
	INDEX waent_tokens_user (username),
	INDEX waent_tokens_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_templates (
	namespace  VARCHAR(128) NOT NULL,
	name       VARCHAR(512) NOT NULL,
	language   VARCHAR(16)  NOT NULL,
	category   VARCHAR(64)  NOT NULL,
	status     VARCHAR(16)  NOT NULL,
	components LONGBLOB,
	updated_at BIGINT       NOT NULL,
	PRIMARY KEY (namespace, name, language)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_media (
	id              VARCHAR(128)  NOT NULL PRIMARY KEY,
	origin          VARCHAR(16)   NOT NULL,
	mime_type       VARCHAR(255)  NOT NULL,
	size            BIGINT        NOT NULL,
	sha256          VARBINARY(32) CHECK (sha256 IS NULL OR LENGTH(sha256) = 32),
	filename        TEXT          NOT NULL,
	created_at      BIGINT        NOT NULL,
	last_used_at    BIGINT        NOT NULL,
	media_key       VARBINARY(32) CHECK (media_key IS NULL OR LENGTH(media_key) = 32),
	file_enc_sha256 VARBINARY(32) CHECK (file_enc_sha256 IS NULL OR LENGTH(file_enc_sha256) = 32),
	direct_path     TEXT          NOT NULL,
	uploaded_at     BIGINT        NOT NULL,
	INDEX waent_media_last_used (last_used_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_leases (
	name       VARCHAR(64) NOT NULL PRIMARY KEY,
	holder     VARCHAR(64) NOT NULL,
	token      BIGINT      NOT NULL,
	expires_at BIGINT      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
