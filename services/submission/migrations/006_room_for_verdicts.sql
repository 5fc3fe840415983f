-- Each report's row is updated once, when its verdict comes back: room left on every page lets that
-- update stay on the page (HOT), without new entries in the row's two indexes.
ALTER TABLE submission_reports SET (fillfactor = 70);
