import type { Block, ChatMessage } from '../chat/surface.js';
import { formatDuration, verdictFor, type DrRun, type StepRecord } from '../dr/model.js';
import { mention, utc } from './format.js';
import { actions, button, context, escapeMrkdwn, lineSections, messageBlocks, messageText, section } from './blocks.js';

const STEP_ICON: Record<StepRecord['status'], string> = {
  pending: '◻️', running: '⏳', passed: '✅', failed: '❌', skipped: '⏭️', cancelled: '🛑',
};
const RUN_ICON: Record<DrRun['status'], string> = { running: '⏳', passed: '✅', failed: '❌', cancelled: '🛑', interrupted: '⚠️' };

export const runLabel = (r: Pick<DrRun, 'id' | 'kind'>): string => `DR-${r.id} ${r.kind === 'dry-run' ? 'dry run' : 'recovery'}`;

/** What a run is, in one line of mrkdwn (mention included, other values escaped): for busy replies, status and history. */
export function runOneLine(r: DrRun): string {
  const current = r.steps.find((s) => s.status === 'running');
  const where = r.status === 'running' ? (current ? `at step ${current.n}/${r.steps.length} (${current.title})` : 'starting') : r.status;
  const backup = r.backupId ? `backup ${r.backupId}` : 'newest verified backup';
  const into = r.targetDatabase ? ` into ${r.targetDatabase}` : '';
  const by = r.trigger === 'schedule' ? 'scheduled' : `requested by ${/^[UW][A-Z0-9]+$/.test(r.requester) ? mention(r.requester) : escapeMrkdwn(r.requester)}`;
  return `${escapeMrkdwn(`${runLabel(r)} of ${backup}${into},`)} ${by} ${utc(r.startedAt)}, ${escapeMrkdwn(where)}`;
}

export function drillHeadline(r: DrRun): ChatMessage {
  const text = `${RUN_ICON[r.status]} ${runLabel(r)} — ${r.status}`;
  const blocks: Block[] = [
    section(`*${text}*\n${runOneLine(r)}`),
  ];
  if (r.status !== 'running') {
    const v = verdictFor(r.targets, r.rtoMs, r.rpoMs);
    blocks.push(context(`RTO ${formatDuration(r.rtoMs)} ${mark(v.rtoMet)} · RPO ${formatDuration(r.rpoMs)} ${mark(v.rpoMet)}${r.error ? ` · ${escapeMrkdwn(r.error)}` : ''}`));
  } else {
    blocks.push(actions(`dr-run-${r.id}`, [button('Cancel', 'dr_cancel', String(r.id), 'danger')]));
  }
  return { text, blocks };
}

const mark = (met: boolean | null): string => (met === null ? '' : met ? '✅' : '❌');

function stepLine(s: StepRecord): string {
  const took = s.durationMs !== undefined ? ` _${formatDuration(s.durationMs)}_` : '';
  const detail = s.detail ? ` — ${escapeMrkdwn(s.detail)}` : '';
  return `${STEP_ICON[s.status]} *${s.n}. ${s.title}*${took}${detail}`;
}

/** The ten steps, updated in place as the run goes. */
export function drillSteps(r: DrRun): ChatMessage {
  const lines = r.steps.map(stepLine);
  // Section text is capped at 3000 characters: split the steps over a few sections.
  return { text: `${runLabel(r)}: steps`, blocks: lineSections(lines, { maxBlocks: 10 }) };
}

export function drillReport(r: DrRun, switchTraffic?: string): ChatMessage {
  const v = verdictFor(r.targets, r.rtoMs, r.rpoMs);
  const t = r.targets;
  const verdict =
    r.status === 'passed' ? 'passed'
    : r.status === 'cancelled' ? 'was cancelled (not a pass)'
    : r.status === 'interrupted' ? 'was interrupted by a Firebreak shutdown (not a pass)'
    : r.status;
  const lines = [
    `*${RUN_ICON[r.status]} ${runLabel(r)} ${verdict}*`,
    `• *RTO* (steps 3-8, measured): ${formatDuration(r.rtoMs)} — target ${formatDuration(t.rtoMs)} ${mark(v.rtoMet)}, stretch ${formatDuration(t.stretchRtoMs)} ${mark(v.rtoStretchMet)}`,
    `• *RPO* (now − snapshot): ${formatDuration(r.rpoMs)} — target ${formatDuration(t.rpoMs)} ${mark(v.rpoMet)}, stretch ${formatDuration(t.stretchRpoMs)} ${mark(v.rpoStretchMet)}`,
    `• Backup: ${r.backupId ?? '—'}${r.database ? ` of ${escapeMrkdwn(r.database)}` : ''} · target: ${r.targetDatabase ?? '—'}`,
  ];
  if (r.error) lines.push(`• What went wrong: ${escapeMrkdwn(r.error)}`);
  if (r.kind === 'dry-run') lines.push('• Production was not touched; the scratch database is dropped at the end.');
  const blocks: Block[] = [section(lines.join('\n'))];
  if (switchTraffic) blocks.push(section(`*Next: switch traffic*\n${escapeMrkdwn(switchTraffic)}`));
  return { text: `${runLabel(r)} ${verdict}: RTO ${formatDuration(r.rtoMs)}, RPO ${formatDuration(r.rpoMs)}`, blocks };
}

export function busyMessage(running: DrRun | undefined): ChatMessage {
  const text = running
    ? `Another drill is running: ${runOneLine(running)}. Only one runs at a time; wait for it or \`/dr cancel\` it.`
    : 'Another drill is starting right now. Only one runs at a time; try again in a minute.';
  return { text, blocks: [section(text)] };
}

export function statusMessage(running: DrRun | undefined, last: DrRun | undefined): ChatMessage {
  if (running) {
    const m = drillSteps(running);
    return { text: runOneLine(running), blocks: [section(`*Running:* ${runOneLine(running)}`), ...(m.blocks ?? [])] };
  }
  const text = last ? `No drill is running. Last: ${runOneLine(last)}, RTO ${formatDuration(last.rtoMs)}, RPO ${formatDuration(last.rpoMs)}.` : 'No drill is running, and none has run yet. Start one with `/dr dry-run`.';
  return { text, blocks: [section(text)] };
}

const BARS = '▁▂▃▄▅▆▇█';

/** A one-line sparkline, oldest to newest; gaps (no measurement) show as a dot. */
export function sparkline(values: (number | null)[]): string {
  const nums = values.filter((v): v is number => v !== null);
  if (nums.length === 0) return '';
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  return values.map((v) => (v === null ? '·' : BARS[hi === lo ? 3 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))])).join('');
}

export function historyMessage(runs: DrRun[]): ChatMessage {
  if (runs.length === 0) return { text: 'No drills yet. Start one with `/dr dry-run`.', blocks: [section('No drills yet. Start one with `/dr dry-run`.')] };
  const rows = runs.map((r) => {
    const v = verdictFor(r.targets, r.rtoMs, r.rpoMs);
    return `${RUN_ICON[r.status]} *${runLabel(r)}* ${utc(r.startedAt)} · ${r.status} · RTO ${formatDuration(r.rtoMs)} ${mark(v.rtoMet)} · RPO ${formatDuration(r.rpoMs)} ${mark(v.rpoMet)} · backup ${r.backupId ?? '—'}${r.trigger === 'schedule' ? ' · scheduled' : ''}`;
  });
  const measured = [...runs].reverse().filter((r) => r.status === 'passed' || r.rtoMs !== null);
  const trend = measured.length >= 2
    ? `Trend, oldest → newest (${measured.length} measured runs): RTO ${sparkline(measured.map((r) => r.rtoMs))} ${formatDuration(measured[0]!.rtoMs)} → ${formatDuration(measured.at(-1)!.rtoMs)} · RPO ${sparkline(measured.map((r) => r.rpoMs))} ${formatDuration(measured[0]!.rpoMs)} → ${formatDuration(measured.at(-1)!.rpoMs)}`
    : 'Trend: needs at least two measured runs.';
  const text = `Last ${runs.length} DR runs`;
  return { text, blocks: messageBlocks([section(`*${text}*`), ...lineSections(rows, { maxBlocks: 20, more: (n) => `_…and ${n} more runs_` }), context(trend)]) };
}

export function scheduledDrillFailed(r: DrRun): ChatMessage {
  const text = `:rotating_light: Scheduled DR drill ${runLabel(r)} ${r.status}: ${escapeMrkdwn(r.error ?? 'see its thread')}`;
  return { text: messageText(text), blocks: [section(text)] };
}

export function drillMissed(reason: string): ChatMessage {
  const text = `:rotating_light: DR drill missed: ${escapeMrkdwn(reason)}`;
  return { text: messageText(text), blocks: [section(text)] };
}
