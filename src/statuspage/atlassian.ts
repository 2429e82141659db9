/**
 * Atlassian Statuspage REST API v1 (https://api.statuspage.io/v1): just what the sync needs:
 * find, create and update an incident (each update with a body is an incident update on
 * their side) with its components' statuses. Every answer is checked with zod.
 */
import { z } from 'zod';
import type { ComponentState, PublicStatus } from './model.js';

/** Statuspage's names for Firebreak's component states. */
export const REMOTE_STATE: Record<ComponentState, string> = {
  operational: 'operational',
  degraded: 'degraded_performance',
  partial_outage: 'partial_outage',
  major_outage: 'major_outage',
  maintenance: 'under_maintenance',
};

const remoteUpdate = z.object({ id: z.string(), status: z.string(), body: z.string().nullable().optional() }).passthrough();
export const remoteIncidentSchema = z
  .object({
    id: z.string().min(1),
    name: z.string(),
    status: z.string(),
    incident_updates: z.array(remoteUpdate).default([]),
    metadata: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .passthrough();
export type RemoteIncident = z.infer<typeof remoteIncidentSchema>;

export class StatuspageError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = 'StatuspageError';
  }
}

export interface IncidentFields {
  name?: string;
  status: PublicStatus;
  body: string;
  /** Statuspage component id -> Statuspage status. */
  components: Record<string, string>;
  metadata?: Record<string, Record<string, string>>;
}

export interface StatuspageApi {
  findIncident(query: string, match: (i: RemoteIncident) => boolean): Promise<RemoteIncident | undefined>;
  getIncident(id: string): Promise<RemoteIncident>;
  createIncident(f: IncidentFields & { name: string }): Promise<RemoteIncident>;
  updateIncident(id: string, f: IncidentFields): Promise<RemoteIncident>;
}

export class StatuspageClient implements StatuspageApi {
  constructor(private o: { apiUrl: string; pageId: string; apiKey: string; timeoutMs?: number }) {}

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = `${this.o.apiUrl.replace(/\/+$/, '')}/pages/${encodeURIComponent(this.o.pageId)}${path}`;
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { authorization: `OAuth ${this.o.apiKey}`, accept: 'application/json', ...(body ? { 'content-type': 'application/json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
      });
    } catch (e) {
      throw new StatuspageError(`Statuspage ${method} ${path} could not be reached: ${(e as Error).message}`);
    }
    const text = await res.text();
    if (!res.ok) throw new StatuspageError(`Statuspage ${method} ${path} answered ${res.status}: ${text.slice(0, 200)}`, res.status);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new StatuspageError(`Statuspage ${method} ${path} answered ${res.status} with a body that is not JSON`, res.status);
    }
  }

  private incident(v: unknown, what: string): RemoteIncident {
    const parsed = remoteIncidentSchema.safeParse(v);
    if (!parsed.success) throw new StatuspageError(`Statuspage ${what}: unexpected answer (${parsed.error.issues[0]?.message ?? 'invalid'})`);
    return parsed.data;
  }

  async findIncident(query: string, match: (i: RemoteIncident) => boolean): Promise<RemoteIncident | undefined> {
    const list = z.array(z.unknown()).safeParse(await this.call('GET', `/incidents?q=${encodeURIComponent(query)}&limit=100`));
    if (!list.success) throw new StatuspageError('Statuspage list incidents: unexpected answer (not a list)');
    return list.data.map((v) => this.incident(v, 'list incidents')).find(match);
  }

  async getIncident(id: string): Promise<RemoteIncident> {
    return this.incident(await this.call('GET', `/incidents/${encodeURIComponent(id)}`), 'get incident');
  }

  async createIncident(f: IncidentFields & { name: string }): Promise<RemoteIncident> {
    return this.incident(await this.call('POST', '/incidents', { incident: payload(f) }), 'create incident');
  }

  async updateIncident(id: string, f: IncidentFields): Promise<RemoteIncident> {
    return this.incident(await this.call('PATCH', `/incidents/${encodeURIComponent(id)}`, { incident: payload(f) }), 'update incident');
  }
}

function payload(f: IncidentFields): Record<string, unknown> {
  return {
    ...(f.name ? { name: f.name } : {}),
    status: f.status,
    body: f.body,
    component_ids: Object.keys(f.components),
    components: f.components,
    deliver_notifications: true,
    ...(f.metadata ? { metadata: f.metadata } : {}),
  };
}
