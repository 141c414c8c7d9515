-- vCards (XEP-0054): serialised XML, kept as sent.
-- Until the module stores moved into xeps/ this file also created private_xml (XEP-0049); that table
-- is now the private module's 0009_private_xml.sql. The file keeps its name, under which databases
-- migrated before the move recorded it, so it is not applied to them again.
CREATE TABLE vcards (
  username   text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
  vcard      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);
