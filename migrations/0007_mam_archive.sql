-- The message archive (XEP-0313). owner is a local username or a room's bare JID, so there is
-- no foreign key to users: deleting an account deletes its archive explicitly (accounts store).
-- id: a bigserial, unique across archives and increasing with insertion; the store hands it out
--     as a decimal string and pages on it (XEP-0059).
-- with_jid: the other party's bare JID (the occupant's room JID in a room archive).
-- ts: the message's time in milliseconds since the epoch (bigint, exact round trip with JS);
--     start/end filters and retention compare it.
CREATE TABLE archive (
  id       bigserial PRIMARY KEY,
  owner    text NOT NULL,
  with_jid text NOT NULL,
  ts       bigint NOT NULL,
  stanza   text NOT NULL
);

CREATE INDEX archive_owner_id ON archive (owner, id);
CREATE INDEX archive_owner_with_id ON archive (owner, with_jid, id);
-- For pruneBefore, which spans every archive.
CREATE INDEX archive_ts ON archive (ts);
