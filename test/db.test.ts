import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase('fb_pool');
});
afterAll(() => db.drop());

describe('the pool', () => {
  it('survives PostgreSQL terminating a checked-out connection: the query fails, the process does not', async () => {
    const pool = createPool(db.url, 2);
    const held = await pool.connect();
    const { rows } = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    // Node throws an 'error' event nobody listens to; reaching the next lines means it was heard.
    await new Promise((r) => setTimeout(r, 200));
    await expect(held.query('SELECT 1')).rejects.toThrow();
    held.release(true);
    expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });
});
