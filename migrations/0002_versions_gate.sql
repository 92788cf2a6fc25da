-- Versions made by community rounds pass a quality gate before they may become current.
--   source: who made the version: 'owner' (stripes push / the web app), 'round' (a community
--           round's aggregate), 'fork' (copied from the source pair at fork time).
--   round:  the round that built it (source = 'round').
--   gate:   JSON {status: 'pending' | 'passed' | 'rejected' | 'stale', base, metrics, baseMetrics,
--           reasons} for round versions; NULL for owner publishes and forks.
-- A rejected version stays stored and readable (it is history), but never becomes current
-- through a round, and the owner cannot roll back to it.
ALTER TABLE versions ADD COLUMN source TEXT NOT NULL DEFAULT 'owner';
ALTER TABLE versions ADD COLUMN round INTEGER;
ALTER TABLE versions ADD COLUMN gate TEXT;
CREATE UNIQUE INDEX versions_round ON versions(pair_slug, round) WHERE round IS NOT NULL;
UPDATE versions SET source = 'round', round = CAST(json_extract(manifest, '$.meta.round') AS INTEGER)
  WHERE json_extract(manifest, '$.meta.source') = 'round';

-- The version that was current when each gallery image was uploaded: a pair's page says which
-- version its samples show once rounds have moved `current` on.
ALTER TABLE samples ADD COLUMN version INTEGER;
