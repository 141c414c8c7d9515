-- Last activity (XEP-0012 §2): when each user's last session ended, and the status text of the
-- unavailable presence they sent last. One row per user, which goes with the user.
CREATE TABLE last_activity (
  username  text PRIMARY KEY REFERENCES users (username) ON DELETE CASCADE,
  seen_at   timestamptz NOT NULL,
  status    text
);
