-- vCards (XEP-0054) and private XML storage (XEP-0049): serialised XML, kept as sent.
CREATE TABLE vcards (
  username   text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
  vcard      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- key is "<element name> <namespace>" of the stored child.
CREATE TABLE private_xml (
  username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  key        text NOT NULL,
  xml        text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (username, key)
);
