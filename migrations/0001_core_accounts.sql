-- Accounts with SCRAM credentials (RFC 5802, RFC 7677): salted keys only, never the password.
CREATE TABLE users (
  username        text PRIMARY KEY,
  sha1_salt       text NOT NULL,
  sha1_iterations integer NOT NULL,
  sha1_stored_key text NOT NULL,
  sha1_server_key text NOT NULL,
  sha256_salt       text NOT NULL,
  sha256_iterations integer NOT NULL,
  sha256_stored_key text NOT NULL,
  sha256_server_key text NOT NULL,
  created_at      timestamptz NOT NULL DEFAULT now()
);
