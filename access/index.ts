export { AccessError, ACCESS_ERROR_STATUS, type AccessErrorCode } from './access-errors.ts';
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
  type AccountManager,
  type AuthenticatedUser,
  type UserListing,
} from './accounts.ts';
export { decideException, describeDecisionOutcome, resolveReconciliationException } from './decide-exception.ts';
export { verifyAuditLog, type AuditVerification } from './audit-verify.ts';
export { generatePassword } from './passwords.ts';
