// Types for mrkdwn.js, which the browser loads as-is and the tests import from Node.
export function setDirectory(d?: {
  users?: Array<{ id: string; name: string; realName?: string }>;
  channels?: Array<{ id: string; name: string }>;
  groups?: Array<{ id: string; handle: string }>;
  emoji?: Record<string, string>;
  now?: () => Date;
}): void;
export function escapeHtml(s: unknown): string;
export function decodeEntities(s: unknown): string;
export function emojify(html: string): string;
export function plainText(text: unknown, emoji?: boolean): string;
export function formatSlackDate(epochSeconds: number, format: string, now?: Date): string | null;
export function mrkdwn(text: unknown): string;
