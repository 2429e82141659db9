import { z } from 'zod';

const userId = z.string().regex(/^U[A-Z0-9]+$/, 'a user id such as U0ALICE');

export const consoleUserSchema = z.object({
  id: userId,
  /** Handle shown in the console, e.g. `alice`. */
  name: z.string().regex(/^[a-z0-9._-]{1,40}$/, 'a lowercase handle such as alice'),
  realName: z.string().max(80).optional(),
});
export type ConsoleUser = z.infer<typeof consoleUserSchema>;

export const consoleUserGroupSchema = z.object({
  id: z.string().regex(/^S[A-Z0-9]+$/, 'a user group id such as S0ONCALL'),
  /** `@handle` without the @, e.g. `oncall`. */
  handle: z.string().regex(/^[a-z0-9._-]{1,40}$/, 'a lowercase handle such as oncall'),
  members: z.array(userId).default([]),
});
export type ConsoleUserGroup = z.infer<typeof consoleUserGroupSchema>;

export const DEMO_USERS: ConsoleUser[] = [
  { id: 'U0ALICE', name: 'alice', realName: 'Alice Adams' },
  { id: 'U0BOB', name: 'bob', realName: 'Bob Brown' },
  { id: 'U0CAROL', name: 'carol', realName: 'Carol Chen' },
];

export const DEMO_USER_GROUPS: ConsoleUserGroup[] = [
  { id: 'S0ONCALL', handle: 'oncall', members: ['U0ALICE', 'U0BOB'] },
  { id: 'S0DBA', handle: 'dba', members: ['U0CAROL'] },
];

/** Channels every console starts with: the defaults the other areas post to. */
export const DEMO_CHANNELS = ['incidents', 'ops', 'approvals', 'alerts'];

/**
 * The local console (used when no Slack tokens are set): who can be picked as the acting
 * user, which user groups exist, which channels exist from the start, and whether it is
 * exposed beyond this machine.
 */
export const consoleConfigSchema = z
  .object({
    users: z.array(consoleUserSchema).min(1).default(DEMO_USERS),
    userGroups: z.array(consoleUserGroupSchema).default(DEMO_USER_GROUPS),
    channels: z.array(z.string().regex(/^[a-z0-9_-]{1,80}$/, 'a channel name: lowercase letters, digits, - and _')).default(DEMO_CHANNELS),
    /** Serve the console (to loopback clients only) even when Slack is configured; off by default. */
    withSlack: z.boolean().default(false),
    /**
     * The address people reach an exposed console at (https://ops.example.com). Setting it is
     * what exposes the console: then every person signs in with their own login link, and only
     * this origin or loopback may call it. Unset: the console answers only on this machine.
     */
    publicUrl: z.string().url().refine((u) => /^https?:\/\//.test(u), 'an http(s) URL').optional(),
    /** Key for session cookies and, when exposed, login links; unset = random per start (sessions end at restart). */
    secret: z.string().min(16, 'at least 16 characters; use a random one, e.g. openssl rand -base64 32').optional(),
  })
  .prefault({})
  .superRefine((c, ctx) => {
    const ids = new Set(c.users.map((u) => u.id));
    c.userGroups.forEach((g, i) =>
      g.members.forEach((m, j) => {
        if (!ids.has(m)) ctx.addIssue({ code: 'custom', path: ['userGroups', i, 'members', j], message: `${m} is not one of console.users` });
      }),
    );
  });
export type ConsoleConfig = z.infer<typeof consoleConfigSchema>;
