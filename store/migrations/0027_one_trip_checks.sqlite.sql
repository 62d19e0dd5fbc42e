-- See 0027_one_trip_checks.pg.sql: SQLite runs in this process, so a
-- change is written statement by statement in its transaction; nothing
-- to add.
SELECT 1;
