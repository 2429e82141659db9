import type { ChangeGate } from '../approvals/gate.js';
import type { IncidentService } from '../incidents/service.js';
import type { DrService } from '../dr/service.js';
import type { AlertService } from '../alerts/service.js';
import type { BackupService } from '../backups/service.js';
import type { OpsPage } from '../paging/service.js';

/**
 * Services one area offers the others, filled in by the modules as the composition root
 * builds them (src/app/app.ts). Optional where an area can run without the other.
 */
export interface Services {
  incidents?: IncidentService;
  changes?: ChangeGate;
  /** Disaster-recovery drills and recoveries (src/dr). */
  dr?: DrService;
  /** Paging: status, and pages about Firebreak's own failures; absent or disabled means off. */
  paging?: { enabled(): boolean; pageOps(page: OpsPage, service?: string): Promise<boolean> };
  /** Alert intake: other receivers (PagerDuty) feed alerts through alerts.ingest(). */
  alerts?: AlertService;
  /** Backups: take, list, verify, restore (src/backups). */
  backups?: BackupService;
}
