-- The lab's chat history service: users, conversations, messages.
-- Seeded deterministically (no random()) so every lab starts from the same data.
-- Applied once on the primary by `lab/lab up`; replicas get it by base backup.

CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
CREATE EXTENSION IF NOT EXISTS hypopg;

CREATE TABLE users (
    id         bigint PRIMARY KEY,
    handle     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversations (
    id         bigserial PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users(id),
    title      text NOT NULL,
    model      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_user_updated_idx ON conversations (user_id, updated_at DESC);

CREATE TABLE messages (
    id                bigserial PRIMARY KEY,
    conversation_id   bigint NOT NULL REFERENCES conversations(id),
    user_id           bigint NOT NULL,
    role              text NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content           text NOT NULL,
    prompt_tokens     int NOT NULL DEFAULT 0,
    completion_tokens int NOT NULL DEFAULT 0,
    moderation        text NOT NULL DEFAULT 'allowed',
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_conversation_created_idx ON messages (conversation_id, created_at);
-- Deliberately missing: an index on messages (user_id). The `slow-query`
-- incident's "a user's recent messages" query seq-scans messages for lack of it,
-- which is what the Queries view and the guarded index action are for.

INSERT INTO users (id, handle, created_at)
SELECT g, 'user' || g, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 minute'
FROM generate_series(1, 5000) AS g;

-- Conversation g belongs to user 1 + (g * 7919) % 5000 (7919 is prime: users spread evenly).
INSERT INTO conversations (id, user_id, title, model, created_at, updated_at)
SELECT g,
       1 + (g * 7919) % 5000,
       'conversation ' || g,
       CASE WHEN g % 4 = 0 THEN 'chat-small' ELSE 'chat-large' END,
       timestamptz '2026-02-01 00:00:00+00' + g * interval '10 seconds',
       timestamptz '2026-02-01 00:00:00+00' + g * interval '10 seconds'
FROM generate_series(1, 50000) AS g;
SELECT setval('conversations_id_seq', 50000);

INSERT INTO messages (conversation_id, user_id, role, content, prompt_tokens, completion_tokens, created_at)
SELECT c, 1 + (c * 7919) % 5000,
       CASE WHEN m % 2 = 0 THEN 'user' ELSE 'assistant' END,
       md5(m::text) || ' ' || md5((m * 31)::text) || ' ' || md5((m * 17)::text),
       CASE WHEN m % 2 = 0 THEN 20 + m % 400 ELSE 0 END,
       CASE WHEN m % 2 = 1 THEN 50 + m % 700 ELSE 0 END,
       timestamptz '2026-02-01 00:00:00+00' + m * interval '2 seconds'
FROM generate_series(1, 400000) AS m, LATERAL (SELECT 1 + m % 50000 AS c) AS conv;

ALTER TABLE users OWNER TO chat_app;
ALTER TABLE conversations OWNER TO chat_app;
ALTER TABLE messages OWNER TO chat_app;
ALTER SEQUENCE conversations_id_seq OWNER TO chat_app;
ALTER SEQUENCE messages_id_seq OWNER TO chat_app;

VACUUM ANALYZE;
