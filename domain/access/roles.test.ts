import { describe, expect, it } from 'vitest';
import { leastRoleFor, mayAct, PERMISSIONS } from './roles.ts';

describe('console roles (SPEC §9)', () => {
  it.each([
    ['viewer', ['read']],
    ['reviewer', ['read', 'decide_exception', 'run_shadow', 'accept_shadow']],
    ['admin', [...PERMISSIONS]],
  ] as const)('a %s may %j and nothing else', (role, allowed) => {
    expect(PERMISSIONS.filter((permission) => mayAct(role, permission))).toEqual(allowed);
  });

  it('names the least role that holds a permission', () => {
    expect(leastRoleFor('read')).toBe('viewer');
    expect(leastRoleFor('decide_exception')).toBe('reviewer');
    expect(leastRoleFor('manage_users')).toBe('admin');
  });
});
