/** What the maintenance area says. Outside text (targets, reasons, Alertmanager errors) is escaped. */
import type { ChatMessage } from '../chat/surface.js';
import type { MaintenanceWindow } from '../maintenance/store.js';
import type { EndOutcome, RequestOutcome } from '../maintenance/service.js';
import { utc } from './format.js';
import { actions, button, escapeMrkdwn, lineSections, messageText, section } from './blocks.js';

export const END_MAINTENANCE_ACTION = 'maintenance.end';

export function maintenanceRequestText(o: RequestOutcome): string {
  switch (o.status) {
    case 'started': {
      const w = o.window;
      return `🛠 Maintenance #${w.id} on \`${escapeMrkdwn(w.target)}\` until ${utc(w.endsAt)}: ${escapeMrkdwn(w.reason)}. ${w.silences.length ? `Silenced in ${escapeMrkdwn(w.silences.map((s) => s.alertmanager).join(', '))}; ` : ''}auto-declare and escalation are off for its alerts. \`/alerts maintenance end ${w.id}\` ends it early.`;
    }
    case 'gated':
      if (o.gate.status === 'pending') return `🛠 This window covers a production service, so it needs approval: change request #${o.gate.requestId} (${o.gate.approvalsNeeded} approval(s)). It starts when approved.`;
      if (o.gate.status === 'started') return `🛠 Production maintenance is starting (${o.gate.reason}, change #${o.gate.requestId ?? '—'}); the approvals channel records it.`;
      return `The maintenance window was refused: ${escapeMrkdwn(o.gate.message)}`;
    case 'refused':
      return escapeMrkdwn(o.message);
  }
}

export function maintenanceEndText(o: EndOutcome): string {
  if (o.status === 'refused') return escapeMrkdwn(o.message);
  return `✅ Maintenance #${o.window.id} on \`${escapeMrkdwn(o.window.target)}\` ended; its silences are expired and alerts notify again.`;
}

export function maintenanceList(windows: MaintenanceWindow[]): ChatMessage {
  const head = windows.length ? `*${windows.length} maintenance window${windows.length === 1 ? '' : 's'} open:*` : 'No maintenance window is open.';
  const lines = windows.map((w) => `• #${w.id} \`${escapeMrkdwn(w.target)}\` until ${utc(w.endsAt)} by <@${w.createdBy}>${w.production ? ' (production)' : ''}: ${escapeMrkdwn(w.reason)}`);
  const blocks = [section(head), ...lineSections(lines, { maxBlocks: 10 })];
  if (windows.length) blocks.push(actions('maintenance-end', windows.slice(0, 10).map((w, i) => button(`End #${w.id} now`, `${END_MAINTENANCE_ACTION}.${i}`, String(w.id), 'danger'))) as never);
  return { text: messageText(head), blocks };
}

export const END_MAINTENANCE_ACTIONS = Array.from({ length: 10 }, (_, i) => `${END_MAINTENANCE_ACTION}.${i}`);
