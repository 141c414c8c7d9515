-- Offline messages (XEP-0160): each user's queue in arrival order. The id is the queue position
-- handed to clients of the store as a decimal string; a bigserial never reuses a value, so a
-- delivery that removes the ids it listed cannot remove a message stored after it.
CREATE TABLE offline_messages (
  id        bigserial PRIMARY KEY,
  username  text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  stanza    text NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX offline_messages_username_id ON offline_messages (username, id);
