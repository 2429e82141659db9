import type { Queryable } from './pool.js';

/**
 * Claims an idempotency key. Returns true the first time a key is seen and false for every
 * retry or re-delivery after it, across replicas (the primary key decides).
 */
export async function claimRequest(db: Queryable, key: string): Promise<boolean> {
  const r = await db.query('INSERT INTO processed_requests (key) VALUES ($1) ON CONFLICT DO NOTHING', [key]);
  return r.rowCount === 1;
}

export async function rememberResult(db: Queryable, key: string, result: unknown): Promise<void> {
  await db.query('UPDATE processed_requests SET result = $2 WHERE key = $1', [key, JSON.stringify(result)]);
}
