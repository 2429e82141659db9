/**
 * The public status page's vocabulary: component states, public incident statuses and the
 * shapes the page is rendered from. Only approved text ever becomes one of these.
 */
export const COMPONENT_STATES = ['operational', 'degraded', 'partial_outage', 'major_outage', 'maintenance'] as const;
export type ComponentState = (typeof COMPONENT_STATES)[number];

export const STATE_LABEL: Record<ComponentState, string> = {
  operational: 'Operational',
  degraded: 'Degraded performance',
  partial_outage: 'Partial outage',
  major_outage: 'Major outage',
  maintenance: 'Under maintenance',
};

/** Worst first: the page's overall state is the worst component's. */
const SEVERITY_ORDER: ComponentState[] = ['major_outage', 'partial_outage', 'degraded', 'maintenance', 'operational'];

export const PUBLIC_STATUSES = ['investigating', 'identified', 'monitoring', 'resolved'] as const;
export type PublicStatus = (typeof PUBLIC_STATUSES)[number];

export const isComponentState = (s: unknown): s is ComponentState => typeof s === 'string' && (COMPONENT_STATES as readonly string[]).includes(s);
export const isPublicStatus = (s: unknown): s is PublicStatus => typeof s === 'string' && (PUBLIC_STATUSES as readonly string[]).includes(s);

export function worstState(states: ComponentState[]): ComponentState {
  return SEVERITY_ORDER.find((s) => states.includes(s)) ?? 'operational';
}

export interface PublicComponent {
  id: string;
  name: string;
  group: string | null;
  description: string | null;
  state: ComponentState;
  updatedAt: Date | null;
}

export interface PublicUpdate {
  id: number;
  status: PublicStatus;
  body: string;
  components: Record<string, ComponentState>;
  publishedAt: Date;
}

export interface PublicIncident {
  id: number;
  title: string;
  status: PublicStatus;
  createdAt: Date;
  updatedAt: Date;
  resolvedAt: Date | null;
  /** Oldest first. */
  updates: PublicUpdate[];
}

/** Everything GET /status and its JSON and Atom twins show: nothing else is read. */
export interface PublicStatusPage {
  title: string;
  generatedAt: Date;
  overall: ComponentState;
  components: PublicComponent[];
  /** Last 90 days, newest first. */
  incidents: PublicIncident[];
}

/** How long an incident lasted (or has lasted so far), in whole minutes, for people. */
export function durationText(from: Date, to: Date): string {
  const minutes = Math.max(0, Math.round((to.getTime() - from.getTime()) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const h = Math.floor(minutes / 60);
  const m = minutes % 60;
  if (h < 48) return m ? `${h} h ${m} min` : `${h} h`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
