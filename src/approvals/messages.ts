import type { AppContext } from '../context.js';
import { claimRequest } from '../db/idempotency.js';
import { ChatError, type ChatMessage, type PostedMessage } from '../chat/surface.js';
import { renderChangeRequest, type ChangeRequestView } from '../templates/approvals.js';
import type { ActionResult } from './gate.js';
import type { ChangeRequest, MessageRef } from './model.js';
import * as store from './store.js';
import { escapeMrkdwn } from '../templates/blocks.js';

/** Who may decide a request: anyone, or these users (groups that could not be resolved are named). */
export type Eligibility = { anyone: true } | { anyone: false; users: Set<string>; unresolvedGroups: string[] };

/** Why a request in this state cannot be decided again (said to whoever tried, and to the requester). */
export function statusRefusal(r: ChangeRequest): string {
  switch (r.status) {
    case 'approved':
    case 'executing':
      return `Change #${r.id} is already approved and running.`;
    case 'executed':
    case 'failed':
      return `Change #${r.id} has already been executed (${r.resultOk ? 'succeeded' : 'failed'}).`;
    case 'rejected':
      return `Change #${r.id} was rejected by <@${r.rejectedBy}>.`;
    case 'expired':
      return `Change #${r.id} expired unapproved at ${r.expiresAt.toISOString()}. Ask for it again if it is still needed.`;
    case 'void':
      return `Change #${r.id} is void: ${r.voidReason ?? 'its parameters changed'}. Ask for it again.`;
    default:
      return `Change #${r.id} is ${r.status}.`;
  }
}

/**
 * Everything change management posts: the request in the approvals channel and in each named
 * approver's DMs (edited in place as it is decided), and the requester's DMs about the outcome.
 * The gate (service.ts) decides; this says it in chat. Chat failures are logged, never thrown:
 * a decision stands whether or not its message could be updated.
 */
export class ChangeMessages {
  /** Message refreshes per request, in order, so an older render never lands after a newer one. */
  private refreshChains = new Map<number, Promise<void>>();

  constructor(
    private readonly ctx: Pick<AppContext, 'chat' | 'config' | 'log' | 'pool' | 'background'>,
    /** The request as it should be shown now (service.ts). */
    private readonly view: (id: number) => Promise<ChangeRequestView | undefined>,
  ) {}

  /** Posts the request to the approvals channel and DMs each named approver, and records where. */
  async announce(req: ChangeRequest, eligible: Eligibility): Promise<void> {
    const view = await this.view(req.id);
    if (!view) return;
    const message = renderChangeRequest(view);
    let main: PostedMessage | undefined;
    try {
      const channel = await this.approvalsChannel(req.requesterChannel);
      if (channel) main = await this.ctx.chat.post(channel, message);
    } catch (err) {
      this.ctx.log.error({ err, changeRequestId: req.id }, 'could not post the change request');
    }
    const directs: MessageRef[] = [];
    if ((req.status === 'pending' || req.needsReview) && !eligible.anyone) {
      for (const user of eligible.users) {
        if (user === req.requester) continue;
        try {
          const dm = await this.ctx.chat.postDirect(user, message);
          directs.push({ channel: dm.channel, ts: dm.ts });
        } catch (err) {
          this.ctx.log.warn({ err, user, changeRequestId: req.id }, 'could not DM an approver');
        }
      }
    }
    if (main) await store.setMessage(this.ctx.pool, req.id, { channel: main.channel, ts: main.ts }, directs);
  }

  private async approvalsChannel(fallback: string | null): Promise<string | undefined> {
    const name = this.ctx.config.approvals.channel;
    try {
      const found = await this.ctx.chat.findChannel(name);
      if (found) return found.id;
      return (await this.ctx.chat.createChannel(name.replace(/^#/, ''))).id;
    } catch (err) {
      if (!(err instanceof ChatError)) throw err;
      this.ctx.log.warn({ err, channel: name }, 'approvals channel unavailable; posting where the change was asked for');
      return fallback ?? undefined;
    }
  }

  /** Re-renders the request everywhere it was posted, in the background, in order per request. */
  refresh(id: number): void {
    const prev = this.refreshChains.get(id) ?? Promise.resolve();
    const next = prev.then(() => this.refreshNow(id)).catch((err: unknown) => this.ctx.log.warn({ err, changeRequestId: id }, 'could not refresh change message'));
    this.refreshChains.set(id, next);
    this.ctx.background.run(`change-refresh:${id}`, async () => {
      await next;
      if (this.refreshChains.get(id) === next) this.refreshChains.delete(id);
    });
  }

  private async refreshNow(id: number): Promise<void> {
    const view = await this.view(id);
    if (!view) return;
    await this.tellRequesterIfClosed(view.request);
    if (!view.request.message) return;
    const message = renderChangeRequest(view);
    for (const ref of [view.request.message, ...view.request.directMessages]) {
      try {
        await this.ctx.chat.update(ref.channel, ref.ts, message);
      } catch (err) {
        this.ctx.log.warn({ err, changeRequestId: id, channel: ref.channel }, 'could not update a change message');
      }
    }
  }

  /** The requester hears how the run ended. */
  async tellResult(req: ChangeRequest, result: ActionResult): Promise<void> {
    await this.tell(req.requester, {
      text: `${result.ok ? ':white_check_mark:' : ':x:'} Change #${req.id} (${escapeMrkdwn(req.title)}) ${result.ok ? 'done' : 'failed'}: ${result.summary}`,
    });
  }

  /** The requester hears once (across replicas and refreshes) that their request will not run. */
  private async tellRequesterIfClosed(r: ChangeRequest): Promise<void> {
    if (r.status !== 'rejected' && r.status !== 'expired' && r.status !== 'void') return;
    if (r.status === 'rejected' && r.rejectedBy === r.requester) return;
    if (!(await claimRequest(this.ctx.pool, `change-told:${r.id}:${r.status}`))) return;
    await this.tell(r.requester, { text: `:no_entry: Nothing was run. ${statusRefusal(r)}${r.status === 'rejected' && r.rejectReason ? ` Reason: ${r.rejectReason}` : ''}` });
  }

  private async tell(user: string, message: ChatMessage): Promise<void> {
    try {
      await this.ctx.chat.postDirect(user, message);
    } catch (err) {
      this.ctx.log.warn({ err, user }, 'could not send change result by DM');
    }
  }
}
