/**
 * A replica that starts while PostgreSQL restarts waits for it instead of exiting. The chaos
 * run (seed 1818) restarted a killed replica during `pg_ctl restart`: its migration check got
 * "the database system is starting up" and the process exited with code 1.
 *
 * A TCP gate in front of the test database plays the restart: it drops every connection until
 * it has dropped a few, then forwards them.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type FirebreakApp } from '../../src/app/app.js';
import { configSchema } from '../../src/config/schema.js';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/log.js';
import { createSlackEdge } from '../../src/slack/edge.js';
import { createEmptyDatabase } from '../support/db.js';
import { FakeSlack } from '../support/fake-slack.js';

let db: { url: string; drop(): Promise<void> };
let slack: FakeSlack;
beforeAll(async () => {
  db = await createEmptyDatabase('fb_startrestart');
  slack = await new FakeSlack().start();
});
afterAll(async () => {
  await slack?.stop();
  await db?.drop();
});

/**
 * Drops the first `refuse` connections (the server restarting), then forwards to PostgreSQL.
 * With `dropOn`, connections are forwarded from the start and the restart comes later: the
 * first `refuse` times a client sends a message containing `dropOn`, its connection is dropped
 * (PostgreSQL going away mid-start) instead of forwarding it.
 */
type Gate = Awaited<ReturnType<typeof gate>>;

/** Starts the whole app with its database reached through `g`, checks it, and stops it; the pool and the gate close whatever happens. */
async function startThrough(g: Gate, check: (app: FirebreakApp) => Promise<void>): Promise<void> {
  const url = new URL(db.url);
  url.host = `127.0.0.1:${g.port}`;
  const config = configSchema.parse({
    databaseUrl: url.toString(), port: 0, logLevel: 'silent',
    slack: { botToken: 'xoxb-test', signingSecret: 'restart-signing-secret', apiUrl: slack.url },
  });
  const log = createLogger({ level: 'silent' });
  const edge = createSlackEdge(config, log);
  const pool = createPool(url.toString());
  try {
    const app = await createApp({ config, pool, log, chat: edge.chat, replies: edge.replies, edgeRoutes: (a) => edge.attach(a) });
    await check(app);
    await app.stop();
  } finally {
    await pool.end().catch(() => {});
    g.close();
  }
}

async function gate(target: URL, refuse: number, dropOn?: string): Promise<{ port: number; refused: () => number; close(): void }> {
  let refused = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    if (!dropOn && refused < refuse) {
      refused++;
      client.destroy();
      return;
    }
    const up = net.connect(Number(target.port || 5432), target.hostname);
    up.on('error', () => client.destroy());
    client.on('data', (data: Buffer) => {
      if (dropOn && refused < refuse && data.includes(dropOn)) {
        refused++;
        client.destroy();
        up.destroy();
        return;
      }
      up.write(data);
    });
    up.pipe(client);
    sockets.add(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    refused: () => refused,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe('starting while PostgreSQL restarts', () => {
  it('createApp waits for the database to come back instead of failing the start', async () => {
    const target = new URL(db.url);
    const g = await gate(target, 3);
    await startThrough(g, async (app) => {
      expect(g.refused()).toBe(3);
      expect((await app.ctx.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')).rows[0]!.n).toBeGreaterThan(0);
    });
  });

  it('the DR start-up clean-up waits for the database too, instead of failing the start', async () => {
    // The chaos run's replica restarted during `pg_ctl restart` exited 1 in DrService.recoverOrphans.
    const g = await gate(new URL(db.url), 2, "UPDATE dr_runs SET status = 'interrupted'");
    await startThrough(g, async () => {
      expect(g.refused()).toBe(2);
    });
  });

  it('the approvals catch-up at start waits for the database too, instead of failing the start', async () => {
    // Migrations checked, then PostgreSQL restarts as the approvals area looks for expired
    // requests (the chaos run's replica exited 1 in ChangeService.expireDue).
    const direct = createPool(db.url);
    const resumes = async () => (await direct.query<{ n: number }>("SELECT count(*)::int AS n FROM jobs WHERE queue = 'approvals.resume'")).rows[0]!.n;
    const before = await resumes();
    const g = await gate(new URL(db.url), 3, 'FROM change_requests WHERE status=\'pending\' AND expires_at');
    try {
      await startThrough(g, async () => {
        expect(g.refused()).toBe(3);
        // The catch-up finished: its resume job is queued.
        expect(await resumes()).toBe(before + 1);
      });
    } finally {
      await direct.end();
    }
  });
});
