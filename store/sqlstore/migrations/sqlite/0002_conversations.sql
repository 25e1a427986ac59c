-- Conversations (24-hour pricing windows per user) and the outbound
-- messages that belong to each, for the conversation and pricing objects
-- of status callbacks.
CREATE TABLE waent_conversations (
	id         TEXT    PRIMARY KEY,
	peer       TEXT    NOT NULL,
	origin     TEXT    NOT NULL,
	opener_id  TEXT    NOT NULL,
	opened_at  INTEGER NOT NULL,
	expires_at INTEGER NOT NULL CHECK (expires_at > opened_at)
);
CREATE INDEX waent_conversations_peer ON waent_conversations (peer, opened_at);
CREATE INDEX waent_conversations_expiry ON waent_conversations (expires_at);

CREATE TABLE waent_message_conversations (
	message_id      TEXT PRIMARY KEY,
	conversation_id TEXT NOT NULL
);
CREATE INDEX waent_message_conversations_conv ON waent_message_conversations (conversation_id);
