-- Conversations (24-hour pricing windows per user) and the outbound
-- messages that belong to each, for the conversation and pricing objects
-- of status callbacks.
CREATE TABLE IF NOT EXISTS waent_conversations (
	id         VARCHAR(128) NOT NULL PRIMARY KEY,
	peer       VARCHAR(128) NOT NULL,
	origin     VARCHAR(64)  NOT NULL,
	opener_id  VARCHAR(128) NOT NULL,
	opened_at  BIGINT       NOT NULL,
	expires_at BIGINT       NOT NULL,
	CHECK (expires_at > opened_at),
	INDEX waent_conversations_peer (peer, opened_at),
	INDEX waent_conversations_expiry (expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS waent_message_conversations (
	message_id      VARCHAR(128) NOT NULL PRIMARY KEY,
	conversation_id VARCHAR(128) NOT NULL,
	INDEX waent_message_conversations_conv (conversation_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
