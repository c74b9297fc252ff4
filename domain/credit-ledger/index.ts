// The credit ledger's pure side: grant terms, SPEC §2 rule 10 usability and order, and the
// consumption movements an issued invoice records. Storage lives in db/queries/credit-ledger.ts.
export {
  compareCreditsForDrawdown,
  considerationPaid,
  effectivePricePerCredit,
  isCreditUsableInPeriod,
  validateCreditGrant,
  type CreditGrant,
  type CreditKind,
} from './credit-grant.ts';
export { creditMovementsFromInvoice, type CreditConsumption } from './credit-movements.ts';
