import type { AppContext, FirebreakModule } from './module.js';
import type { IncidentService } from '../incidents/service.js';
import { EXPORT_QUEUE, type FollowupService } from '../followups/service.js';
import { actionNoteText } from '../followups/model.js';
import { followupsCommand, incidentFollowupSubcommands } from '../commands/followups.js';
import { addFollowupAction, addFollowupView } from '../handlers/followups.js';
import { followupWebhookRoutes } from '../webhooks/followups.js';
import { ADD_FOLLOWUP_ACTION, ADD_FOLLOWUP_VIEW } from '../templates/followups.js';

/** Every `minutes` as cron: minutes under an hour, whole hours above (the schema allows 1-59, 60, 120, ... 1440). */
export function pollCron(minutes: number): string {
  if (minutes < 60) return `*/${minutes} * * * *`;
  const hours = Math.round(minutes / 60);
  return hours >= 24 ? '0 0 * * *' : `0 */${hours} * * *`;
}

/**
 * Follow-ups: `action:` notes become records (the note hook), `/incident followups`,
 * `/incident followup add`, `/followups`, the Add follow-up button and modal, the export job,
 * the tracker webhooks and the poll that reads issue state back.
 */
export function followupsModule(ctx: AppContext, followups: FollowupService, incidents: IncidentService): FirebreakModule {
  const now = () => ctx.clock.now();
  const cfg = ctx.config.followups;

  // After the note is committed: its follow-up is recorded once (keyed by the note's event),
  // and whoever wrote it hears what was recorded (an unlinked owner, a bad date).
  ctx.hooks.on('incident.note_added', async ({ incident, actor, text }) => {
    if (actionNoteText(text) === undefined) return;
    const out = await followups.fromNotes(incident.id, 'note');
    for (const f of out.created.filter((x) => x.createdBy === actor)) await followups.messages.tell(actor, incident.channelId, followups.messages.recorded(f, true));
    for (const u of out.unreadable) await followups.messages.tell(actor, incident.channelId, `That action note was kept as a note but is not a follow-up: ${u.error}`);
  });

  if (followups.trackerKind) {
    // Once per slot across replicas: read issue state back and retry exports that gave up.
    ctx.scheduler.add({
      name: 'followups:poll', cron: pollCron(cfg.pollMinutes),
      run: async () => {
        const r = await followups.poll();
        if (r.closed || r.rearmed || r.errors) ctx.log.info({ ...r }, 'follow-up tracker poll');
      },
    });
  }

  return {
    name: 'followups',
    commands: [followupsCommand(followups, incidents, now)],
    subcommands: { '/incident': incidentFollowupSubcommands(followups, incidents, now) },
    actions: { [ADD_FOLLOWUP_ACTION]: addFollowupAction(incidents) },
    views: { [ADD_FOLLOWUP_VIEW]: addFollowupView(followups, incidents) },
    routes: followupWebhookRoutes(followups, { github: cfg.github.webhookSecret, jira: cfg.jira.webhookSecret }, ctx.log),
    jobs: { [EXPORT_QUEUE]: (job) => followups.runExportJob(job) },
  };
}
