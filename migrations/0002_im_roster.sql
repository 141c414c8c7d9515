-- Rosters (RFC 6121 §2) with roster versions (XEP-0237), and inbound subscription requests
-- kept until the user answers them (RFC 6121 §3.1.3). Every row goes with its user.

-- JIDs sort by code point (COLLATE "C" on a UTF-8 database), as in the embedded store, and the
-- primary key's index then serves a roster in the order it is returned.
CREATE TABLE roster_items (
  username     text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  jid          text COLLATE "C" NOT NULL,
  name         text,
  subscription text NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
  ask          boolean NOT NULL DEFAULT false,
  approved     boolean NOT NULL DEFAULT false,
  groups       text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (username, jid)
);

-- A user without a row here has version 0 (a roster that was never written).
CREATE TABLE roster_versions (
  username text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
  version  bigint NOT NULL CHECK (version > 0)
);

-- seq orders requests made in the same instant; a replaced request takes a new one.
CREATE TABLE subscription_requests (
  username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  from_jid   text COLLATE "C" NOT NULL,
  stanza     text NOT NULL,
  created_at timestamptz NOT NULL,
  seq        bigserial NOT NULL,
  PRIMARY KEY (username, from_jid)
);
