-- Intentionally empty. Version 7 created the table of a message archive (XEP-0313) store that no
-- module used; the store went (issue #14), and the archive module (issue #16) brings its own
-- migration in its folder. The file stays so that the version sequence and the history recorded by
-- databases migrated before stay valid; on those databases the old, unused table `archive` is left
-- as it is (it never held rows: nothing wrote to it), so the archive module must not assume it is
-- absent.
SELECT 1;
