export { AccessError } from './access-errors.ts';
export {
  addUser,
  auditActorOf,
  authenticatePassword,
  authenticateToken,
  disableUser,
  issueToken,
  listUsers,
  recordLogout,
  requirePermission,
  unlockUser,
  userOfSession,
  type AuthenticatedUser,
} from './accounts.ts';
export { decideException, resolveReconciliationException } from './decide-exception.ts';
export { verifyAuditLog } from './audit-verify.ts';
