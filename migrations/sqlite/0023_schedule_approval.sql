-- Whether a scheduled publication needs an approved revision when it fires (1) or not (0): an
-- editor's does; an operator's publishes the lesson as it stands, as the operator's publication
-- now does. It used to be required of every scheduled publication, so an operator's schedule of
-- an unreviewed lesson was accepted and then dropped when it came due.
ALTER TABLE lessons ADD COLUMN publish_at_needs_approval BIGINT NOT NULL DEFAULT 1;
