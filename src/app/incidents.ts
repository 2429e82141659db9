import type { AppContext, FirebreakModule } from './module.js';
import type { IncidentService } from '../incidents/service.js';
import { REMINDER_QUEUE } from '../incidents/reminders.js';
import { retryStuckSetups, SETUP_CLAIM_SECONDS, SETUP_QUEUE, setupRetryDelayMs } from '../incidents/setup.js';
import { incidentCommand } from '../commands/incident.js';
import { declareViewHandler, incidentActionHandlers, incidentEventHandlers, incidentViewHandlers } from '../handlers/incidents.js';

export function incidentsModule(ctx: AppContext, service: IncidentService): FirebreakModule {
  // Short claim: a replica killed mid-setup hands the war room to another within seconds.
  ctx.jobs.handle(SETUP_QUEUE, (job) => service.runSetup(job), { claimSeconds: SETUP_CLAIM_SECONDS, retryDelayMs: setupRetryDelayMs });
  // A setup whose retries ran out during a long outage starts again once Slack answers.
  ctx.scheduler.add({ name: 'incidents:setup-retry', cron: '*/5 * * * *', run: async () => void (await retryStuckSetups(service)) });
  return {
    name: 'incidents',
    commands: [incidentCommand(service)],
    actions: incidentActionHandlers(service),
    views: { 'incident.declare': declareViewHandler(service), ...incidentViewHandlers(service) },
    events: incidentEventHandlers(service),
    jobs: { [REMINDER_QUEUE]: (job) => service.runReminderJob(job) },
  };
}
