import type { AppContext } from '../context.js';
import type { DrKind, DrTrigger } from './model.js';

/** What drills need from the app: AppContext fits, and so does the CLI's smaller context. */
export type DrContext = Pick<AppContext, 'config' | 'pool' | 'clock' | 'log' | 'chat' | 'background' | 'replicaId' | 'shutdownSignal'>;

/** A drill or recovery someone (or the schedule) asked for. */
export interface DrillRequest {
  kind: DrKind;
  trigger?: DrTrigger;
  backupId?: string;
  /** Execute only: the database to recover into. */
  targetDatabase?: string;
  requester: string;
  approvers?: string[];
  changeRequestId?: number | null;
  /** Where the drill's thread goes (id or name); unset or unknown = dr.channel, else the ops channel. */
  channel?: string;
}
