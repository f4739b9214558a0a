-- Rule files on start (issue finding 5): each accepted rule set keeps its sources, JSON
-- {file name in the rules directory: content}, so that a start whose files are rejected can come
-- up on the last good set instead of exiting. '' on rows recorded before this migration and on
-- rejected reloads.
ALTER TABLE rule_set_history ADD COLUMN IF NOT EXISTS sources String DEFAULT '' AFTER files;
