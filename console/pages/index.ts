import { auditPage } from './audit-page.ts';
import { backfillDetailPage, backfillsListPage } from './backfill-pages.ts';
import { exceptionDetailPage, exceptionsQueuePage } from './exception-pages.ts';
import { accountPage, executivePage } from './finops-pages.ts';
import { invoiceDetailPage, invoicesListPage } from './invoice-pages.ts';
import { opsPage } from './ops-page.ts';
import type { ConsolePage } from './page.ts';
import { shadowCustomerPage, shadowRunPage, shadowRunsPage } from './shadow-pages.ts';
import { usersPage } from './users-page.ts';

export type { ConsolePage } from './page.ts';

/** Every page of the console, in navigation order. */
export const PAGES: readonly ConsolePage[] = [
  exceptionsQueuePage,
  exceptionDetailPage,
  invoicesListPage,
  invoiceDetailPage,
  shadowRunsPage,
  shadowRunPage,
  shadowCustomerPage,
  opsPage,
  executivePage,
  accountPage,
  backfillsListPage,
  backfillDetailPage,
  auditPage,
  usersPage,
];
