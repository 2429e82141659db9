import type { AppContext, FirebreakModule } from './module.js';
import { json, problem, type Route } from '../http/router.js';
import { migrationsApplied } from '../db/migrate.js';
import { chatMode } from '../config/schema.js';
import { findMissingChannels } from '../chat/channels.js';
import { cachedCheck, runChecks, type ReadinessCheck } from '../ops/health.js';
import { readinessCheckUp, readinessFailures, refreshStoredStateGauges, registry } from '../ops/metrics.js';
import { refreshIncidentGauges } from '../ops/incident-metrics.js';
import type { Lifecycle } from '../ops/lifecycle.js';
import { runbookCommand } from '../commands/runbook.js';
import { loadRunbook, loadRunbooks } from '../runbooks/runbook.js';
import { runHousekeeping } from '../ops/housekeeping.js';
import { createObjectStore, type ObjectStore } from '../storage/index.js';
import { annotateRequest } from '../ops/request-context.js';
import type { HookPayloads } from '../events/hooks.js';
import type { ConfigVersionRef } from '../config/version-ref.js';
import { configVersionBody } from '../ops/health.js';

const startedAt = Date.now();

/**
 * Firebreak running as a service: health probes, /metrics, runbooks (chat and HTTP) and the
 * housekeeping schedule. Built last by the composition root so readiness sees every module's
 * checks.
 */
export function opsModule(
  ctx: AppContext,
  lifecycle: Lifecycle,
  allModules: () => FirebreakModule[],
  /** The configuration version the replica runs now (src/app/app.ts), reported by /health/ready. */
  configVersion: () => ConfigVersionRef | undefined = () => undefined,
): FirebreakModule {
  const ops = ctx.config.ops;
  let objectStore: ObjectStore | undefined;
  const readiness: Record<string, ReadinessCheck> = {
    database: async () => {
      await ctx.pool.query('SELECT 1');
    },
    // Slack's auth.test (or the console's table) is cached: probes must not burn rate limit.
    chat: cachedCheck(() => ctx.chat.ping(), ops.chatCheckCacheSeconds * 1000),
    // Every channel Firebreak posts to still exists (renamed or archived ones are caught
    // here, not by the next incident); cached like chat for the same rate-limit reason.
    channels: cachedCheck(async () => {
      const missing = await findMissingChannels(ctx.config, ctx.chat);
      if (missing.length) throw new Error(missing.map((m) => m.fix).join('; '));
    }, ops.chatCheckCacheSeconds * 1000),
    // Where backups go (S3 HeadBucket, or the local directory is writable); cached like chat
    // because each S3 request costs money and probes come every few seconds.
    objectStore: cachedCheck(
      () => (objectStore ??= createObjectStore(ctx.config.backups.storage, ctx.config.dataDir)).ping(),
      ops.objectStoreCheckCacheSeconds * 1000,
    ),
  };

  const collectChecks = (): Record<string, ReadinessCheck> => {
    const all: Record<string, ReadinessCheck> = {};
    for (const m of allModules()) Object.assign(all, m.readiness ?? {});
    return all;
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/health/live',
      // Answering at all is the proof: the event loop is turning. No dependency is consulted,
      // so a database outage never gets healthy replicas restarted.
      handle: async () => json(200, { status: 'ok', replica: ctx.replicaId, uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }),
    },
    {
      method: 'GET',
      path: '/health/ready',
      handle: async () => {
        if (lifecycle.draining) {
          return json(503, { status: 'draining', replica: ctx.replicaId, config: configVersionBody(configVersion()), detail: 'shutting down: finishing in-flight work, taking no new work' });
        }
        const checks = await runChecks(collectChecks(), ops.requiredChecks, ops.checkTimeoutSeconds * 1000);
        for (const [name, c] of Object.entries(checks)) readinessCheckUp.set({ check: name }, c.status === 'up' ? 1 : 0);
        const requiredDown = Object.entries(checks).filter(([, c]) => c.required && c.status === 'down').map(([n]) => n);
        const degraded = Object.values(checks).some((c) => c.status === 'down');
        const status = requiredDown.length ? 'not_ready' : degraded ? 'degraded' : 'ready';
        if (requiredDown.length) readinessFailures.inc();
        if (requiredDown.length) ctx.log.warn({ action: 'health.not_ready', down: requiredDown }, 'readiness failed');
        return json(requiredDown.length ? 503 : 200, { status, replica: ctx.replicaId, config: configVersionBody(configVersion()), checks, scheduler: { leader: ctx.scheduler.isLeader() } });
      },
    },
    {
      method: 'GET',
      path: '/health/startup',
      handle: async () => {
        const migrations = await migrationsApplied(ctx.pool);
        const body = {
          status: migrations ? 'started' : 'starting',
          replica: ctx.replicaId,
          checks: {
            migrations: { status: migrations ? 'applied' : 'pending_or_unreachable' },
            config: { status: 'loaded', chatMode: chatMode(ctx.config) },
          },
        };
        return json(migrations ? 200 : 503, body);
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: async () => {
        // Stored-state gauges are read at scrape time, bounded so a slow database delays the
        // scrape by at most a second rather than failing it.
        await Promise.race([Promise.all([refreshStoredStateGauges(ctx.pool), refreshIncidentGauges(ctx.pool, ctx.clock.now())]), new Promise((r) => setTimeout(r, 1000).unref())]);
        return { status: 200, headers: { 'content-type': registry.contentType }, body: await registry.metrics() };
      },
    },
    {
      method: 'GET',
      path: '/runbooks',
      handle: async () => {
        const all = await loadRunbooks(ops.runbooksDir);
        return json(200, { runbooks: all.map((r) => ({ name: r.name, title: r.title, missing: r.missing, problems: r.problems })) });
      },
    },
    {
      method: 'GET',
      path: '/runbooks/*',
      handle: async (req) => {
        let name: string;
        try {
          name = decodeURIComponent(req.path.slice('/runbooks/'.length));
        } catch {
          return problem(400, 'invalid_runbook_name', 'The runbook name is not valid percent-encoding; GET /runbooks lists the names.');
        }
        const found = await loadRunbook(ops.runbooksDir, name);
        if (!found) return problem(404, 'runbook_not_found', `No runbook named "${name.slice(0, 80)}"; GET /runbooks lists them.`);
        return { status: 200, headers: { 'content-type': 'text/markdown; charset=utf-8' }, body: found.markdown };
      },
    },
  ];

  // One log line per incident change, and the incident id on every later line of the same
  // request (src/ops/request-context.ts), so a request's log reads as what happened to which incident.
  const hookNames: (keyof HookPayloads)[] = ['incident.declared', 'incident.severity_changed', 'incident.status_changed', 'incident.resolved', 'incident.reopened'];
  for (const name of hookNames) {
    ctx.hooks.on(name, async (p) => {
      annotateRequest({ incidentId: p.incident.id });
      ctx.log.info({ action: name, incidentId: p.incident.id, severity: p.incident.severity, actor: p.actor }, `incident ${name.slice('incident.'.length).replace('_', ' ')}`);
    });
  }

  ctx.scheduler.add({
    name: 'ops:housekeeping',
    cron: ops.housekeeping.cron,
    run: async (slot) => {
      const deleted = await runHousekeeping(ctx.pool, ctx.clock, ops.housekeeping.keepDays);
      ctx.log.info({ action: 'ops.housekeeping', slot: slot.toISOString(), replicaId: ctx.replicaId, ...deleted }, 'housekeeping ran');
    },
  });

  return {
    name: 'ops',
    commands: [runbookCommand({ runbooksDir: ops.runbooksDir, publicUrl: ctx.publicUrl })],
    routes,
    readiness,
    start: async () => {
      // A misspelt required check would silently never be required: say so at start.
      const known = Object.keys(collectChecks());
      const unknown = ops.requiredChecks.filter((n) => !known.includes(n));
      if (unknown.length) {
        ctx.log.warn({ action: 'ops.config', unknown, known }, `ops.requiredChecks names checks that do not exist (${unknown.join(', ')}); known checks: ${known.join(', ')}`);
      }
    },
  };
}
