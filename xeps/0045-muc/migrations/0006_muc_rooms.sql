-- Persistent MUC rooms (XEP-0045) and their affiliations. A room belongs to its MUC service, not
-- to a user, so nothing here references users: an owner's account going away leaves the room.

CREATE TABLE rooms (
  jid        text PRIMARY KEY,
  -- The MUC service: the domain part of the room's bare JID.
  service    text GENERATED ALWAYS AS (substr(jid, strpos(jid, '@') + 1)) STORED,
  -- muc#roomconfig_* field -> string, number, boolean or array of strings.
  config     jsonb NOT NULL CHECK (jsonb_typeof(config) = 'object'),
  subject    text,
  subject_by text,
  created_at timestamptz NOT NULL
);

CREATE INDEX rooms_by_service ON rooms (service, jid COLLATE "C");

CREATE TABLE room_affiliations (
  room        text NOT NULL REFERENCES rooms (jid) ON DELETE CASCADE,
  jid         text NOT NULL,
  affiliation text NOT NULL CHECK (affiliation IN ('owner', 'admin', 'member', 'outcast')),
  reason      text,
  -- The nickname registered in the room; uniqueness within a room is the module's business.
  nick        text,
  PRIMARY KEY (room, jid)
);

-- For the rooms-per-owner count.
CREATE INDEX room_affiliations_owners ON room_affiliations (jid) WHERE affiliation = 'owner';
