import type { Queryable } from '../db/pool.js';
import type { ReplyAddress } from '../chat/interactions.js';

/** A war-room step's progress: intent recorded before the Slack call, result after it. */
export type StepState = 'started' | 'done';

export async function setupSteps(db: Queryable, incidentId: number): Promise<Record<string, StepState>> {
  const { rows } = await db.query<{ setup_steps: Record<string, StepState> }>('SELECT setup_steps FROM incidents WHERE id = $1', [incidentId]);
  return rows[0]?.setup_steps ?? {};
}

export async function markStep(db: Queryable, incidentId: number, step: string, state: StepState): Promise<void> {
  await db.query(`UPDATE incidents SET setup_steps = setup_steps || jsonb_build_object($2::text, $3::text) WHERE id = $1`, [incidentId, step, state]);
}

/**
 * Claims a channel name for an incident before Slack is asked to create it. False when
 * another incident holds the name (the unique index decides, across replicas).
 */
export async function claimChannelName(db: Queryable, incidentId: number, name: string): Promise<boolean> {
  try {
    await db.query('UPDATE incidents SET channel_name = $2 WHERE id = $1 AND channel_id IS NULL', [incidentId, name]);
    return true;
  } catch (e) {
    if ((e as { code?: string }).code === '23505') return false;
    throw e;
  }
}

/** Open incidents whose setup still has errors and whose setup job gave up (out of attempts). */
export async function stuckSetups(db: Queryable, queue: string): Promise<{ incidentId: number; notify?: ReplyAddress }[]> {
  const { rows } = await db.query<{ id: number; notify: ReplyAddress | null }>(
    `SELECT i.id, j.payload->'notify' AS notify FROM incidents i
       JOIN jobs j ON j.queue = $1 AND j.dedupe_key = $1 || ':' || i.id AND j.status = 'failed'
      WHERE i.status <> 'resolved' AND i.setup_errors <> '{}'::jsonb ORDER BY i.id LIMIT 100`,
    [queue],
  );
  return rows.map((r) => ({ incidentId: Number(r.id), ...(r.notify ? { notify: r.notify } : {}) }));
}

/** Whether a Slack channel is already another incident's channel. */
export async function channelTaken(db: Queryable, channelId: string, incidentId: number): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM incidents WHERE channel_id = $1 AND id <> $2', [channelId, incidentId]);
  return (rowCount ?? 0) > 0;
}
