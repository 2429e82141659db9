import type { Queryable } from '../db/pool.js';
import type { Clock } from '../clock.js';

/**
 * Takes or renews the named lease for `holder`. True while this holder owns it; a lease
 * whose holder stopped renewing expires after `ttlSeconds` and goes to the next asker.
 */
export async function acquireLease(db: Queryable, clock: Clock, name: string, holder: string, ttlSeconds: number): Promise<boolean> {
  const now = clock.now();
  const expires = new Date(now.getTime() + ttlSeconds * 1000);
  const { rows } = await db.query<{ holder: string }>(
    `INSERT INTO leases (name, holder, expires_at) VALUES ($1,$2,$3)
     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
       WHERE leases.holder = EXCLUDED.holder OR leases.expires_at < $4
     RETURNING holder`,
    [name, holder, expires, now],
  );
  return rows[0]?.holder === holder;
}

export async function releaseLease(db: Queryable, name: string, holder: string): Promise<void> {
  await db.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
}

export async function leaseHolder(db: Queryable, clock: Clock, name: string): Promise<string | null> {
  const { rows } = await db.query<{ holder: string }>('SELECT holder FROM leases WHERE name=$1 AND expires_at >= $2', [name, clock.now()]);
  return rows[0]?.holder ?? null;
}
