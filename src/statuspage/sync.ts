/**
 * Sync of approved publishes to Atlassian Statuspage, run by a durable job after the publish
 * committed. Idempotent on retry: the remote incident id is stored once known and, when it is
 * not (a crash right after the create), looked up by the metadata Firebreak set on it; an
 * update already on Statuspage (same status and text) is marked synced, never sent twice.
 */
import type pg from 'pg';
import type { Clock } from '../clock.js';
import { REMOTE_STATE, type StatuspageApi } from './atlassian.js';
import type { StatusPageConfig } from './config.js';
import type { ComponentState } from './model.js';
import * as store from './store.js';

export const SYNC_QUEUE = 'statuspage.sync';

export interface SyncDeps {
  pool: pg.Pool;
  clock: Clock;
  config: StatusPageConfig;
  api: StatuspageApi;
}

const marker = (statusIncidentId: number) => ({ firebreak: { status_incident_id: String(statusIncidentId) } });

function remoteComponents(config: StatusPageConfig, states: Record<string, ComponentState>): Record<string, string> {
  const map = config.atlassian.components;
  return Object.fromEntries(Object.entries(states).filter(([id]) => map[id]).map(([id, s]) => [map[id]!, REMOTE_STATE[s]]));
}

/** Sends every update of the public incident that Statuspage does not have yet, oldest first. */
export async function syncStatusIncident(d: SyncDeps, statusIncidentId: number): Promise<number> {
  const si = await store.getStatusIncident(d.pool, statusIncidentId);
  if (!si) return 0;
  let remoteId = si.remoteId;
  let sent = 0;
  for (const u of await store.unsyncedUpdates(d.pool, si.id)) {
    const fields = { name: si.title, status: u.status, body: u.body, components: remoteComponents(d.config, u.components) };
    if (!remoteId) {
      const found = await d.api.findIncident(si.title, (r) => (r.metadata?.firebreak as { status_incident_id?: unknown } | undefined)?.status_incident_id === String(si.id));
      if (found) {
        remoteId = found.id;
        await store.setRemoteId(d.pool, si.id, remoteId);
      } else {
        const created = await d.api.createIncident({ ...fields, metadata: marker(si.id) });
        await store.setRemoteId(d.pool, si.id, created.id);
        await store.markSynced(d.pool, u.id, d.clock.now());
        remoteId = created.id;
        sent++;
        continue;
      }
    }
    const remote = await d.api.getIncident(remoteId);
    if (!remote.incident_updates.some((x) => x.status === u.status && (x.body ?? '') === u.body)) {
      await d.api.updateIncident(remoteId, fields);
      sent++;
    }
    await store.markSynced(d.pool, u.id, d.clock.now());
  }
  return sent;
}
