-- Private XML storage (XEP-0049): serialised XML fragments, kept as sent. key is "<element name>
-- <namespace>" of the stored child.
-- This table was created by 0004_im_vcard_private.sql, which now belongs to the vCard module and
-- creates only vcards: a database migrated before the move has the table already (IF NOT EXISTS makes
-- this a no-op there, and the table is the same), a new database gets it here.
CREATE TABLE IF NOT EXISTS private_xml (
  username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  key        text NOT NULL,
  xml        text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (username, key)
);
