import type { Role } from '../../contracts/console-api.ts';

/**
 * What each console role may do (SPEC §9): a viewer reads everything; a reviewer also decides
 * exceptions and runs shadow runs; an admin also manages users, backfills and schedules, and locks
 * accounting periods.
 * Every check names a permission, never a role, so a new capability adds a permission here.
 */
export const PERMISSIONS = [
  'read',
  'decide_exception',
  'run_shadow',
  'accept_shadow',
  'manage_users',
  'run_backfill',
  'manage_schedules',
  'flip_cutover',
  'lock_periods',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

const GRANTS: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: ['read'],
  reviewer: ['read', 'decide_exception', 'run_shadow', 'accept_shadow'],
  admin: PERMISSIONS,
};

export function mayAct(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

/** The least role that holds a permission (for the message a refused person reads). */
export function leastRoleFor(permission: Permission): Role {
  const role = (['viewer', 'reviewer', 'admin'] as const).find((candidate) => mayAct(candidate, permission));
  return role ?? 'admin';
}
