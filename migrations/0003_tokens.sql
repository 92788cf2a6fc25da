-- Token revocation. A token's expiry is signed into the token itself (worker/tokens.ts); what
-- cannot be signed in is a later change of mind, so revoked token ids are listed here. A token's
-- holder revokes it with DELETE /api/tokens/self, the operator with DELETE /api/admin/tokens/{id}.

CREATE TABLE token_revocations (
  token_id TEXT PRIMARY KEY,      -- the public id (tokens.id); may name an id tokens lacks
  revoked_at TEXT NOT NULL,
  revoked_by TEXT NOT NULL CHECK (revoked_by IN ('holder', 'operator'))
);
