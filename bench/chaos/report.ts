/** The one table a chaos run prints. */
import type { ChaosResult } from './run.js';

export function formatReport(r: ChaosResult): string {
  const lines: string[] = [];
  const row = (cells: (string | number)[], widths: number[]) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]!) : String(c).padStart(widths[i]!))).join('  ');
  lines.push(`chaos run: seed ${r.seed}, ${r.size}, ${(r.durationMs / 1000).toFixed(1)} s`);
  lines.push('');
  lines.push(row(['fault injected', 'count'], [44, 8]));
  for (const [k, v] of Object.entries(r.faults).sort()) lines.push(row([k, v], [44, 8]));
  const proxyTotal = Object.entries(r.faults).filter(([k]) => /^(Slack|PagerDuty|S3)/.test(k)).reduce((a, [, v]) => a + v, 0);
  lines.push(row(['(Slack/PagerDuty/S3 faults in total)', proxyTotal], [44, 8]));
  lines.push('');
  lines.push(row(['operation', 'count'], [44, 8]));
  for (const [k, v] of Object.entries(r.operations).sort()) lines.push(row([k, v], [44, 8]));
  lines.push(row(['(operations in total)', Object.values(r.operations).reduce((a, b) => a + b, 0)], [44, 8]));
  lines.push('');
  const w = [66, 8, 6, 6, 6, 6];
  lines.push(row(['invariant', 'checked', 'lost', 'dup', 'stuck', 'other'], w));
  for (const i of r.invariants) {
    lines.push(row([i.name, i.checked, i.lost, i.duplicated, i.stuck, i.violations], w));
    for (const n of i.notes) lines.push(`    ${n}`);
  }
  lines.push('');
  lines.push(r.passed ? `PASS seed ${r.seed}` : `FAIL seed ${r.seed}: invariants violated (rerun with --seed ${r.seed} for the same fault schedule)`);
  return lines.join('\n');
}
