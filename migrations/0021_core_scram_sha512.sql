-- SCRAM-SHA-512 keys (draft-melnikov-scram-sha-512), and accounts with keys for only some hashes:
-- those offered when the password was set ([auth] scram_hashes); a PLAIN login derives the rest.
ALTER TABLE users
  ADD COLUMN sha512_salt text,
  ADD COLUMN sha512_iterations integer,
  ADD COLUMN sha512_stored_key text,
  ADD COLUMN sha512_server_key text,
  ALTER COLUMN sha1_salt DROP NOT NULL,
  ALTER COLUMN sha1_iterations DROP NOT NULL,
  ALTER COLUMN sha1_stored_key DROP NOT NULL,
  ALTER COLUMN sha1_server_key DROP NOT NULL,
  ALTER COLUMN sha256_salt DROP NOT NULL,
  ALTER COLUMN sha256_iterations DROP NOT NULL,
  ALTER COLUMN sha256_stored_key DROP NOT NULL,
  ALTER COLUMN sha256_server_key DROP NOT NULL;
