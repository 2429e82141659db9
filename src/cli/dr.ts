import { startsAtOnce } from '../approvals/service.js';
import { DR_DRY_RUN_KIND } from '../dr/model.js';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { cliDatabase, withCliRuntime } from './runtime.js';
import { systemClock } from '../clock.js';
import { Background } from '../jobs/background.js';
import { ChatError, type Block, type ChatMessage, type ChatSurface, type PostedMessage } from '../chat/surface.js';
import { backupsRestoreSource } from '../dr/backups-binding.js';
import { DrService } from '../dr/service.js';
import { formatDuration } from '../dr/model.js';
import { historyMessage, statusMessage } from '../templates/dr.js';
import type { CliGroup, CliIo } from './types.js';

const USAGE = 'usage: firebreak dr dry-run [backup-id] | status [--json] | history [count] [--json] | cancel';

/** Block Kit and mrkdwn as terminal lines. */
function lines(m: ChatMessage): string[] {
  const texts = (m.blocks ?? []).flatMap((b: Block) => {
    const t = (b as { text?: { text?: string } }).text?.text;
    const els = (b as { elements?: { text?: string }[] }).elements?.map((e) => e.text ?? '') ?? [];
    return [t ?? '', ...els];
  });
  const all = (texts.some(Boolean) ? texts : [m.text]).join('\n');
  return all
    .replace(/<@([^>]+)>/g, '$1')
    .replace(/[*`]/g, '')
    // _italics_ only where they are markup: names like pg_restore and firebreak_dr_7 keep theirs.
    .replace(/(^|\s)_([^_\n]+)_(?=\s|$)/g, '$1$2')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
    .split('\n')
    .filter((l) => l.trim());
}

/**
 * The drill's messages in a terminal: each new or changed line once, so the ten steps read
 * as a log (⏳ then ✅/❌ with the duration) instead of being redrawn on every update.
 */
class TerminalChat implements ChatSurface {
  private shown = new Set<string>();
  private seq = 0;
  constructor(private io: CliIo) {}
  private print(m: ChatMessage): void {
    for (const l of lines(m)) {
      if (this.shown.has(l)) continue;
      this.shown.add(l);
      this.io.out(l);
    }
  }
  async findChannel(nameOrId: string) {
    return { id: 'terminal', name: nameOrId };
  }
  async post(channel: string, message: ChatMessage): Promise<PostedMessage> {
    this.print(message);
    return { channel, ts: String(++this.seq) };
  }
  async update(_channel: string, _ts: string, message: ChatMessage): Promise<void> {
    this.print(message);
  }
  async postEphemeral(_c: string, _u: string, message: ChatMessage): Promise<void> {
    this.print(message);
  }
  async postDirect(_u: string, message: ChatMessage): Promise<PostedMessage> {
    this.print(message);
    return { channel: 'terminal', ts: String(++this.seq) };
  }
  async ping(): Promise<void> {}
  async permalink(): Promise<string | undefined> {
    return undefined;
  }
  async messageText(): Promise<string | undefined> {
    return undefined;
  }
  private unsupported(op: string): never {
    throw new ChatError('not_available_in_terminal', op);
  }
  createChannel(): never { return this.unsupported('createChannel'); }
  findTagged(): never { return this.unsupported('findTagged'); }
  openDirect(): never { return this.unsupported('openDirect'); }
  ownChannel(): never { return this.unsupported('ownChannel'); }
  setTopic(): never { return this.unsupported('setTopic'); }
  setPurpose(): never { return this.unsupported('setPurpose'); }
  invite(): never { return this.unsupported('invite'); }
  userGroupMembers(): never { return this.unsupported('userGroupMembers'); }
  openModal(): never { return this.unsupported('openModal'); }
  uploadFile(): never { return this.unsupported('uploadFile'); }
  findUpload(): never { return this.unsupported('findUpload'); }
}

/**
 * `firebreak dr`: drills without Slack, which is when they may matter most. A dry run from
 * here takes the same lock, records the same report and honours Ctrl-C (interrupted, with
 * its scratch database dropped). A real recovery needs approvals, so it stays in chat.
 */
export const drCli: CliGroup = {
  name: 'dr',
  summary: 'disaster-recovery drills: run a dry run, see the running one and the history',
  verbs: {
    'dry-run [backup-id]': 'restore the newest verified (or named) backup into a scratch database, validate, time, drop it',
    'status [--json]': 'the running drill and its step, or the last one',
    'history [count] [--json]': 'past drills with RTO/RPO against targets and the trend',
    cancel: 'stop the running drill (on whichever replica runs it)',
  },
  async run(verb, args, io) {
    if (!verb || !['dry-run', 'status', 'history', 'cancel'].includes(verb)) {
      io.err(USAGE);
      return 2;
    }
    const db = cliDatabase(args, `dr ${verb}`);
    if ('problem' in db) {
      io.err(db.problem);
      return 2;
    }
    const config = db.config;
    const json = db.args.includes('--json');
    args = db.args.filter((a) => a !== '--json');
    return withCliRuntime(db.url, async ({ pool, log, signal }) => {
      const ctx = {
        config, pool, clock: systemClock, log, chat: new TerminalChat(io), background: new Background(log),
        replicaId: `cli-${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`, shutdownSignal: signal,
      };
      // Whoever runs the CLI holds Firebreak's database credentials on the host and could stop a
      // drill in SQL anyway: the chat-side rule (requester, approver, commander) is not theirs.
      const service = new DrService(ctx, backupsRestoreSource(ctx), { authorizeStop: async () => ({ allowed: true, because: 'host-operator' }) });
      switch (verb) {
        case 'status': {
          const running = await service.running();
          if (json) {
            io.out(JSON.stringify({ running: running ?? null, last: running ? null : ((await service.history(1))[0] ?? null) }, null, 2));
            return 0;
          }
          lines(statusMessage(running, running ? undefined : (await service.history(1))[0])).forEach((l) => io.out(l));
          return 0;
        }
        case 'history': {
          const n = args[0] ? Number(args[0]) : 10;
          if (!Number.isInteger(n) || n < 1 || n > 50) {
            io.err('firebreak dr history [count]: count is a whole number from 1 to 50');
            return 2;
          }
          const runs = await service.history(n);
          if (json) io.out(JSON.stringify(runs, null, 2));
          else lines(historyMessage(runs)).forEach((l) => io.out(l));
          return 0;
        }
        case 'cancel': {
          const r = await service.cancel(`cli:${os.userInfo().username}`);
          if (r.status === 'refused') {
            io.err(r.message);
            return 1;
          }
          io.out(r.status === 'idle' ? 'No drill is running.' : `Cancelling DR-${r.run.id}; it stops within a second wherever it runs.`);
          return 0;
        }
        default: {
          // The CLI cannot collect approvals: it runs dry runs only where policy pre-approves them.
          if (!startsAtOnce(config.approvals, DR_DRY_RUN_KIND)) {
            io.err('Dry runs need an approval under your change policy, which the CLI cannot collect. Run `/dr dry-run` in Slack or the console, or make dry runs a pre-approved standard change (approvals.actions["dr.dry-run"].preApproved: true).');
            return 1;
          }
          const backupId = args[0];
          if (backupId && !(await service.findBackup(backupId))) {
            io.err(`There is no backup ${backupId}.`);
            return 1;
          }
          const r = await service.start({ kind: 'dry-run', backupId, requester: `cli:${os.userInfo().username}` });
          if (r.status === 'busy') {
            lines({ text: `Another drill is running${r.running ? `: DR-${r.running.id}` : ''}. Only one runs at a time.` }).forEach((l) => io.err(l));
            return 1;
          }
          if (r.status === 'refused') {
            io.err(r.message);
            return 1;
          }
          const run = await r.done;
          io.out(`DR-${run.id} ${run.status}: RTO ${formatDuration(run.rtoMs)}, RPO ${formatDuration(run.rpoMs)}`);
          return run.status === 'passed' ? 0 : 1;
        }
      }
    });
  },
};
