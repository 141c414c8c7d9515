-- XEP-0484 FAST tokens: one per account and user-agent id, kept as a verifier (never the token itself).
CREATE TABLE fast_tokens (
  username    text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  agent       text NOT NULL,
  mechanism   text NOT NULL,
  verifier    text NOT NULL,
  responder   text NOT NULL,
  expires_at  timestamptz NOT NULL,
  credential  text NOT NULL,
  PRIMARY KEY (username, agent)
);
