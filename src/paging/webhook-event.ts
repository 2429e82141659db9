/**
 * PagerDuty webhook v3 events, reduced to what Firebreak acts on. Parsing is lenient: a
 * field PagerDuty leaves out (agent, html_url) becomes undefined rather than an error, and
 * event types we do not know still parse so they can be accepted and ignored.
 */
export interface PdWebhookEvent {
  id: string;
  type: string;
  /** When it happened in PagerDuty (MTTA is measured to an acknowledgement's time, not its delivery). */
  occurredAt?: Date;
  /** Who caused it: a user's name, or the service/integration that did. */
  agentName?: string;
  /** PagerDuty's incident id (P...), from data.id or data.incident.id. */
  pdIncidentId?: string;
  pdIncidentUrl?: string;
  /** The Events API dedup key of the alert that opened the incident. */
  incidentKey?: string;
  /** incident.annotated: the note text. */
  note?: string;
  /** incident.escalated / reassigned: who it is assigned to now. */
  assignees: string[];
  /** incident.resolved: PagerDuty's resolve reason, when it gives one. */
  resolveReason?: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** Undefined when the body is not a v3 webhook at all (no event object, id or type). */
export function parseWebhookEvent(body: unknown): PdWebhookEvent | undefined {
  const ev = obj(obj(body)?.event);
  const id = str(ev?.id);
  const type = str(ev?.event_type);
  if (!ev || !id || !type) return undefined;
  const occurred = str(ev.occurred_at);
  const at = occurred ? new Date(occurred) : undefined;
  const data = obj(ev.data) ?? {};
  const incidentRef = obj(data.incident);
  const isIncident = data.type === 'incident';
  const resolveReason = obj(data.resolve_reason);
  return {
    id,
    type,
    ...(at && !Number.isNaN(at.getTime()) ? { occurredAt: at } : {}),
    agentName: str(obj(ev.agent)?.summary),
    pdIncidentId: isIncident ? str(data.id) : str(incidentRef?.id),
    pdIncidentUrl: isIncident ? str(data.html_url) : str(incidentRef?.html_url),
    incidentKey: isIncident ? str(data.incident_key) : undefined,
    note: data.type === 'incident_note' ? str(data.content) : undefined,
    assignees: Array.isArray(data.assignees) ? data.assignees.map((a) => str(obj(a)?.summary)).filter((a): a is string => !!a) : [],
    resolveReason: str(resolveReason?.type) ?? str(data.resolve_reason),
  };
}
