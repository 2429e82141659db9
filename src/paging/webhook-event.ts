import type { IncomingAlert } from '../alerts/model.js';

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
  /** The incident itself, when the event carries one (what an alert is made from). */
  incident?: PdIncidentDetails;
}

/** What an alert needs from a v3 incident object; times stay ISO strings so jobs can carry them. */
export interface PdIncidentDetails {
  title?: string;
  createdAt?: string;
  serviceName?: string;
  serviceId?: string;
  urgency?: string;
  priority?: string;
  escalationPolicy?: string;
  runbookUrl?: string;
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
    ...(isIncident ? { incident: incidentDetails(data) } : {}),
  };
}

function incidentDetails(data: Record<string, unknown>): PdIncidentDetails {
  const created = str(data.created_at);
  const service = obj(data.service);
  const details: PdIncidentDetails = {
    title: str(data.title),
    createdAt: created && !Number.isNaN(new Date(created).getTime()) ? created : undefined,
    serviceName: str(service?.summary) ?? str(service?.name),
    serviceId: str(service?.id),
    urgency: str(data.urgency),
    priority: str(obj(data.priority)?.summary) ?? str(obj(data.priority)?.name),
    escalationPolicy: str(obj(data.escalation_policy)?.summary) ?? str(obj(data.escalation_policy)?.name),
    runbookUrl: runbookUrlIn(data),
  };
  return Object.fromEntries(Object.entries(details).filter(([, v]) => v !== undefined)) as PdIncidentDetails;
}

const httpUrl = (v: unknown): string | undefined => {
  const s = str(v);
  return s && /^https?:\/\//i.test(s) ? s : undefined;
};

/**
 * PagerDuty has no runbook field; monitoring that knows one puts `runbook_url` in the
 * incident body's details (an object, or the JSON text the Events API stores there).
 */
function runbookUrlIn(data: Record<string, unknown>): string | undefined {
  const body = obj(data.body);
  let details: unknown = body?.details;
  if (typeof details === 'string') {
    try {
      details = JSON.parse(details);
    } catch {
      details = undefined;
    }
  }
  const d = obj(details);
  return httpUrl(data.runbook_url) ?? httpUrl(body?.runbook_url) ?? httpUrl(d?.runbook_url) ?? httpUrl(obj(d?.custom_details)?.runbook_url);
}

/** Event types that change whether a PagerDuty incident is a live problem. */
const ALERT_STATUS: Record<string, IncomingAlert['status']> = {
  'incident.triggered': 'firing',
  'incident.reopened': 'firing',
  'incident.resolved': 'resolved',
};

/**
 * A PagerDuty incident raised by other monitoring, as an alert of source `pagerduty`. Undefined
 * for events that do not change its state (acknowledged, annotated, ...) and for non-incidents.
 * The PagerDuty incident id is the fingerprint, so every delivery about it is the same alert.
 */
export function alertFromWebhookEvent(e: PdWebhookEvent, now: Date): IncomingAlert | undefined {
  const status = ALERT_STATUS[e.type];
  const inc = e.incident;
  if (!status || !inc || !e.pdIncidentId) return undefined;
  const at = e.occurredAt ?? now;
  // A reopen is a new occurrence: a later start lets it fire again after the resolve (the
  // store treats a firing alert no newer than its resolve as a stale re-delivery).
  const startsAt = e.type === 'incident.reopened' ? at : inc.createdAt ? new Date(inc.createdAt) : at;
  const labels: Record<string, string> = { alertname: inc.title ?? `PagerDuty incident ${e.pdIncidentId}`, source: 'pagerduty' };
  if (inc.serviceName) labels.service = inc.serviceName;
  if (inc.serviceId) labels.service_id = inc.serviceId;
  if (inc.urgency) labels.urgency = inc.urgency;
  if (inc.priority) labels.priority = inc.priority;
  if (inc.escalationPolicy) labels.escalation_policy = inc.escalationPolicy;
  const annotations: Record<string, string> = { summary: inc.title ?? labels.alertname! };
  if (e.pdIncidentUrl) annotations.html_url = e.pdIncidentUrl;
  if (inc.runbookUrl) annotations.runbook_url = inc.runbookUrl;
  return {
    source: 'pagerduty',
    fingerprint: e.pdIncidentId,
    status,
    labels,
    annotations,
    startsAt,
    endsAt: status === 'resolved' ? at : null,
    generatorUrl: e.pdIncidentUrl && /^https?:\/\//i.test(e.pdIncidentUrl) ? e.pdIncidentUrl : null,
  };
}
