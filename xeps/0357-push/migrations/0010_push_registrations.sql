-- XEP-0357 push notifications: the app server nodes each account enabled (§5), with the publish-options
-- form the server forwards, whether the client asked for bodies, the resource that enabled it, and the
-- messages notified since that client was last online. Gone with the account.
CREATE TABLE push_registrations (
  username      text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  jid           text NOT NULL,
  node          text NOT NULL,
  options       text,
  include_body  boolean NOT NULL DEFAULT false,
  resource      text,
  enabled_at    timestamptz NOT NULL,
  count         integer NOT NULL DEFAULT 0,
  PRIMARY KEY (username, jid, node)
);
