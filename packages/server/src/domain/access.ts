// What an app portal token may do. The names are Svix's (AppPortalCapability), so a token
// asked for with the Svix SDK means the same here.

export const PORTAL_CAPABILITIES = [
  /** Read everything of the application except endpoint secrets, custom headers and webhook keys. */
  'ViewBase',
  'ViewEndpointSecret',
  /** Rotate, and so also see, endpoint secrets. */
  'ManageEndpointSecret',
  /** Accepted for Svix compatibility; Hookwell has no transformations, so it grants nothing. */
  'ManageTransformations',
  /** Send again: resend, recover, replay missing, retry failed, send an example. */
  'CreateAttempts',
  /** Create, change and delete endpoints and all their configuration, secrets included. */
  'ManageEndpoint',
] as const;

export type PortalCapability = (typeof PORTAL_CAPABILITIES)[number];

export const READ_ONLY: readonly PortalCapability[] = ['ViewBase'];

/**
 * The capabilities a new token gets: every one when none are asked for, only ViewBase when
 * read-only. An error message (naming the field) when the request cannot be honoured.
 */
export function grantedCapabilities(readOnly: boolean | null | undefined, asked: string[] | null | undefined): PortalCapability[] | string {
  if (readOnly === true) {
    if (asked != null && asked.some((c) => c !== 'ViewBase')) return 'readOnly allows only ViewBase; ask for readOnly or for capabilities, not both';
    return [...READ_ONLY];
  }
  if (asked == null) return [...PORTAL_CAPABILITIES];
  if (!asked.includes('ViewBase')) return 'capabilities must include ViewBase';
  return asked as PortalCapability[];
}

/** Whether a token holding `held` may use a route that any one of `needs` opens. */
export function allows(held: readonly string[], needs: readonly PortalCapability[]): boolean {
  return needs.some((n) => held.includes(n));
}
