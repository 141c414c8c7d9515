-- Privacy lists (XEP-0016) and the block list (XEP-0191). Everything here belongs to one user and
-- goes with the account (ON DELETE CASCADE from users).

-- A list exists even with no items; its items are in privacy_list_items.
CREATE TABLE privacy_lists (
  username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  name     text NOT NULL,
  PRIMARY KEY (username, name)
);

-- position keeps the items of a list in the order they were written, so items that share an
-- order value come back as written; readers sort by item_order, then position.
CREATE TABLE privacy_list_items (
  username     text    NOT NULL,
  list         text    NOT NULL,
  position     integer NOT NULL,
  type         text    CHECK (type IN ('jid', 'group', 'subscription')),
  value        text,
  action       text    NOT NULL CHECK (action IN ('allow', 'deny')),
  item_order   bigint  NOT NULL,
  message      boolean NOT NULL,
  iq           boolean NOT NULL,
  presence_in  boolean NOT NULL,
  presence_out boolean NOT NULL,
  PRIMARY KEY (username, list, position),
  FOREIGN KEY (username, list) REFERENCES privacy_lists (username, name) ON DELETE CASCADE
);

-- The user's default list; deleting that list deletes this row with it.
CREATE TABLE privacy_defaults (
  username text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
  list     text NOT NULL,
  FOREIGN KEY (username, list) REFERENCES privacy_lists (username, name) ON DELETE CASCADE
);

-- Blocked JIDs (bare, full or domain) per user.
CREATE TABLE blocklist (
  username text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  jid      text NOT NULL,
  PRIMARY KEY (username, jid)
);
