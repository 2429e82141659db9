/**
 * The alert intake's group commit (src/alerts/ingest-queue.ts), on its own: which requests
 * share a write, and what a failing shared write does to its neighbours.
 */
import { describe, expect, it } from 'vitest';
import { IngestQueue, RejectedAlerts } from '../../src/alerts/ingest-queue.js';
import type { IncomingAlert } from '../../src/alerts/model.js';
import type { IngestResult } from '../../src/alerts/store.js';

const alert = (fingerprint: string): IncomingAlert => ({
  source: 'alertmanager', fingerprint, status: 'firing', labels: { alertname: fingerprint }, annotations: {},
  startsAt: new Date('2026-03-09T10:00:00Z'), endsAt: null, generatorUrl: null,
});
const ok = (requests: IncomingAlert[][]): IngestResult[] => requests.map((r) => ({ accepted: r.length, new: r.length, known: 0, duplicates: 0 }));

describe('IngestQueue', () => {
  it('requests submitted in the same turn of the event loop share one write', async () => {
    const writes: number[] = [];
    const q = new IngestQueue(async (requests) => {
      writes.push(requests.length);
      return ok(requests);
    });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => q.submit([alert(`a${i}`)])));
    expect(writes).toEqual([50]);
    expect(results.every((r) => r.accepted === 1 && r.new === 1)).toBe(true);
  });

  it('requests arriving while writes are in flight wait for a slot and then go together', async () => {
    const writes: number[] = [];
    const release: (() => void)[] = [];
    const q = new IngestQueue(async (requests) => {
      writes.push(requests.length);
      await new Promise<void>((r) => release.push(r));
      return ok(requests);
    }, 1);
    const first = q.submit([alert('first')]);
    await new Promise((r) => setImmediate(r));
    expect(q.busy()).toBe(true);
    const later = Array.from({ length: 10 }, (_, i) => q.submit([alert(`later${i}`)]));
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual([1]);
    release.shift()!();
    await first;
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual([1, 10]);
    release.shift()!();
    await Promise.all(later);
    expect(q.busy()).toBe(false);
    expect(q.busy(60_000)).toBe(true);
  });

  it('a shared write the database refuses is retried request by request: only the refused one fails', async () => {
    const q = new IngestQueue(async (requests) => {
      if (requests.some((r) => r.some((a) => a.fingerprint === 'poison'))) throw Object.assign(new Error('invalid input syntax'), { code: '22P02' });
      return ok(requests);
    });
    const [good1, bad, good2] = await Promise.allSettled([q.submit([alert('g1')]), q.submit([alert('poison')]), q.submit([alert('g2')])]);
    expect(good1.status).toBe('fulfilled');
    expect(good2.status).toBe('fulfilled');
    expect(bad.status === 'rejected' && bad.reason).toBeInstanceOf(RejectedAlerts);
  });
});
