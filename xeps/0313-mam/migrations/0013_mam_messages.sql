-- Message archive (XEP-0313): one row per archived message and owner (a username, or a room's bare
-- JID, which has an '@'), ids time-ordered (xeps/0313-mam/ids.ts). The primary key serves the pages of
-- an archive, (owner, with_jid, id) the `with` filter, (id) the retention purge. Named mam_* because
-- databases migrated through version 7 may hold an unused table `archive`.
CREATE TABLE mam_messages (
  owner     text NOT NULL,
  id        text COLLATE "C" NOT NULL,
  with_jid  text NOT NULL,
  peer      text NOT NULL,
  stamp     timestamptz NOT NULL,
  stanza    text NOT NULL,
  PRIMARY KEY (owner, id)
);
CREATE INDEX mam_messages_with ON mam_messages (owner, with_jid, id);
CREATE INDEX mam_messages_id ON mam_messages (id);

CREATE TABLE mam_prefs (
  owner         text PRIMARY KEY,
  default_mode  text NOT NULL CHECK (default_mode IN ('always', 'roster', 'never')),
  always_jids   text[] NOT NULL,
  never_jids    text[] NOT NULL
);

-- An account's archive goes with the account, also when the CLI deletes it with no server running.
CREATE FUNCTION mam_forget_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM mam_messages WHERE owner = OLD.username;
  DELETE FROM mam_prefs WHERE owner = OLD.username;
  RETURN OLD;
END;
$$;
CREATE TRIGGER mam_forget_user AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION mam_forget_user();
