import type pg from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { ChatSurface } from '../chat/surface.js';
import type { ObjectStore } from '../storage/object-store.js';
import { GENESIS_HASH } from '../events/log.js';
import type { AnchorCheck } from './verify.js';

/**
 * The audit chain's anchor: its head hash and row count, published where the database role
 * cannot rewrite it. The owner of `events` can disable its triggers and re-chain every hash,
 * and nothing inside the database can tell; an anchor written earlier to the backup store
 * (write-once: a key is never written twice) and posted to the audit channel can.
 */
export const ANCHOR_PREFIX = 'audit-anchors/';

export interface Anchor {
  lastId: number;
  eventCount: number;
  headHash: string;
  publishedAt: string;
}

/** `<lastId, zero padded so keys sort in order>-<hash>.json`: the key says what it anchors. */
export const anchorKey = (a: Pick<Anchor, 'lastId' | 'headHash'>): string => `${ANCHOR_PREFIX}${String(a.lastId).padStart(15, '0')}-${a.headHash}.json`;

export interface AnchorDeps {
  pool: pg.Pool;
  store: ObjectStore;
  clock: Clock;
  log: Logger;
  /** Where to post it; absent from the CLI, which prints instead. */
  chat?: ChatSurface;
  channel?: string;
}

/** Reads the current head in one snapshot. */
async function currentHead(pool: pg.Pool): Promise<Omit<Anchor, 'publishedAt'>> {
  const { rows } = await pool.query<{ id: number | null; hash: string | null; n: number }>(
    `SELECT (SELECT id FROM events ORDER BY id DESC LIMIT 1) AS id, (SELECT hash FROM events ORDER BY id DESC LIMIT 1) AS hash, (SELECT count(*) FROM events)::bigint AS n`,
  );
  const r = rows[0]!;
  return { lastId: r.id ?? 0, headHash: r.hash ?? GENESIS_HASH, eventCount: r.n };
}

/**
 * Publishes the current head. The object is written only if its key is new (check before
 * put), so an anchor is never overwritten; an unchanged head publishes nothing new.
 */
export async function publishAnchor(deps: AnchorDeps): Promise<{ anchor: Anchor; key: string; created: boolean }> {
  const head = await currentHead(deps.pool);
  const anchor: Anchor = { ...head, publishedAt: deps.clock.now().toISOString() };
  const key = anchorKey(anchor);
  if (await deps.store.head(key)) return { anchor, key, created: false };
  await deps.store.putSmall(key, JSON.stringify(anchor, null, 2), 'application/json');
  if (deps.chat && deps.channel) {
    await deps.chat
      .post(deps.channel, { text: `Audit anchor: entry #${anchor.lastId}, ${anchor.eventCount} entries, head ${anchor.headHash} (stored as ${deps.store.location}/${key}).` })
      .catch((err: unknown) => deps.log.warn({ err }, 'posting the audit anchor failed; it is in the backup store'));
  }
  deps.log.info({ key, lastId: anchor.lastId, eventCount: anchor.eventCount }, 'audit anchor published');
  return { anchor, key, created: true };
}

/** The newest published anchor, as something verify checks against; undefined when none. */
export async function latestAnchor(store: ObjectStore): Promise<AnchorCheck | undefined> {
  let last: string | undefined;
  for await (const o of store.list(ANCHOR_PREFIX)) if (o.key.endsWith('.json') && (!last || o.key > last)) last = o.key;
  if (!last) return undefined;
  const body = await store.getSmall(last);
  if (!body) return undefined;
  const a = JSON.parse(body.toString('utf8')) as Anchor;
  return { name: last, headHash: a.headHash, lastId: a.lastId, eventCount: a.eventCount };
}
