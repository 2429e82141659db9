import type { ChangeGate } from './approvals/gate.js';
import type { IncidentService } from './incidents/service.js';
import type { DrService } from './dr/service.js';
import type { AlertService } from './alerts/service.js';
import type { BackupService } from './backups/service.js';

/**
 * Services one area offers the others, filled in by the modules as the composition root
 * builds them (src/app.ts). Optional where an area can run without the other.
 */
export interface Services {
  incidents?: IncidentService;
  changes?: ChangeGate;
  /** Disaster-recovery drills and recoveries (src/dr). */
  dr?: DrService;
  /** Paging provider status; absent or disabled means paging is off. */
  paging?: { enabled(): boolean };
  /** Alert intake: other receivers (PagerDuty) feed alerts through alerts.ingest(). */
  alerts?: AlertService;
  /** Backups: take, list, verify, restore (src/backups). */
  backups?: BackupService;
}
