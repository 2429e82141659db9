import { problem, type Route } from './router.js';

/** True for addresses of this machine: 127.0.0.0/8, ::1, and IPv4-mapped 127.x. */
export const isLoopback = (address: string | undefined): boolean =>
  !!address && (address === '::1' || address === 'localhost' || address.startsWith('127.') || address.startsWith('::ffff:127.'));

/** The same route, refused with 403 to any client that is not on this machine. */
export function loopbackOnly(route: Route, detail: string): Route {
  return {
    ...route,
    handle: async (req) => (isLoopback(req.remoteAddress) ? route.handle(req) : problem(403, 'local_only', detail)),
  };
}
