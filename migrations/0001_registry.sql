-- The pair registry. Weight bytes live in R2 (content-addressed shards); D1 holds who owns what,
-- which manifest each version is, and which version a pair serves.

CREATE TABLE tokens (
  id TEXT PRIMARY KEY,            -- public half of an API token; the HMAC signature is never stored
  name TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);

CREATE TABLE pairs (
  slug TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  domain_a TEXT NOT NULL,
  domain_b TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  licence TEXT NOT NULL,
  owner TEXT NOT NULL,            -- token id of the creator
  forked_from TEXT,               -- lineage pointer: the source pair's slug ...
  forked_version INTEGER,         -- ... and the version it was forked at
  current_version INTEGER,        -- NULL until a version is committed
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX pairs_updated ON pairs(updated_at);

-- A version is immutable once committed. A pending version is declared (its manifest stored),
-- its shards uploaded, then committed; only committed versions are ever served.
CREATE TABLE versions (
  pair_slug TEXT NOT NULL REFERENCES pairs(slug),
  number INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'committed')),
  manifest TEXT NOT NULL,
  created_at TEXT NOT NULL,
  committed_at TEXT,
  PRIMARY KEY (pair_slug, number)
);

-- The shards each version names, so an upload can be checked against a declared manifest.
CREATE TABLE version_shards (
  pair_slug TEXT NOT NULL,
  number INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (pair_slug, number, sha256),
  FOREIGN KEY (pair_slug, number) REFERENCES versions(pair_slug, number)
);
CREATE INDEX version_shards_hash ON version_shards(sha256);

-- A few small images per domain for the gallery; the bytes are in R2.
CREATE TABLE samples (
  pair_slug TEXT NOT NULL REFERENCES pairs(slug),
  domain TEXT NOT NULL CHECK (domain IN ('A', 'B')),
  idx INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  size INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (pair_slug, domain, idx)
);

-- Fixed-window counters for per-token (and per-address, for token issuance) write limits.
CREATE TABLE rate_limits (
  key TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
);
