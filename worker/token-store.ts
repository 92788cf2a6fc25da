/**
 * What D1 knows about a token beyond its signature: whether it was revoked, and (for tokens
 * from before signed expiries) when it was issued. The only module that reads or writes
 * `token_revocations` (migrations/0003_tokens.sql).
 */
export type RevokedBy = 'holder' | 'operator';

export interface TokenRecord {
  /** When the registry recorded the token's issue (ISO), or null when it has no row. */
  issuedAt: string | null;
  revokedAt: string | null;
  revokedBy: RevokedBy | null;
}

export class TokenStore {
  constructor(private readonly db: D1Database) {}

  /** One query per authenticated request. */
  async record(id: string): Promise<TokenRecord> {
    const row = await this.db
      .prepare(
        'SELECT (SELECT created_at FROM tokens WHERE id = ?1) AS issued_at, r.revoked_at, r.revoked_by ' +
          'FROM (SELECT 1) LEFT JOIN token_revocations r ON r.token_id = ?1',
      )
      .bind(id)
      .first<{ issued_at: string | null; revoked_at: string | null; revoked_by: RevokedBy | null }>();
    return { issuedAt: row?.issued_at ?? null, revokedAt: row?.revoked_at ?? null, revokedBy: row?.revoked_by ?? null };
  }

  /** Revokes a token id; revoking twice keeps the first record. Returns when it was revoked. */
  async revoke(id: string, by: RevokedBy, now = new Date()): Promise<{ revokedAt: string; already: boolean }> {
    const at = now.toISOString();
    const inserted = await this.db
      .prepare('INSERT INTO token_revocations (token_id, revoked_at, revoked_by) VALUES (?, ?, ?) ON CONFLICT (token_id) DO NOTHING')
      .bind(id, at, by)
      .run();
    if (inserted.meta.changes) return { revokedAt: at, already: false };
    const row = await this.db.prepare('SELECT revoked_at FROM token_revocations WHERE token_id = ?').bind(id).first<{ revoked_at: string }>();
    return { revokedAt: row?.revoked_at ?? at, already: true };
  }
}
