-- XEP-0163 Personal Eventing Protocol: each account's nodes (configuration as JSON) and their items, in publish
-- order (ord, from one sequence: a republished id takes a new number and so becomes the newest).
CREATE TABLE pep_nodes (
  username   text NOT NULL REFERENCES users (username) ON DELETE CASCADE,
  node       text NOT NULL,
  config     jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (username, node)
);

CREATE SEQUENCE pep_item_order;

CREATE TABLE pep_items (
  username  text NOT NULL,
  node      text NOT NULL,
  item_id   text NOT NULL,
  publisher text NOT NULL,
  payload   text NOT NULL,
  ord       bigint NOT NULL DEFAULT nextval('pep_item_order'),
  PRIMARY KEY (username, node, item_id),
  FOREIGN KEY (username, node) REFERENCES pep_nodes (username, node) ON DELETE CASCADE
);

CREATE INDEX pep_items_order ON pep_items (username, node, ord);
