import { z } from 'zod';

/**
 * The answers of the marketplaces' metering APIs, parsed at the edge (the adapters in
 * providers/marketplaces/). Only the fields Tally reads are required; the rest passes through.
 */

/** Azure: one usage event as the marketplace echoes it (quantities are JSON numbers on its side). */
const AzureEventEcho = z.looseObject({
  usageEventId: z.string().optional(),
  status: z.string(),
  messageTime: z.string().optional(),
  resourceId: z.string().optional(),
  quantity: z.number().optional(),
  dimension: z.string().optional(),
  effectiveStartTime: z.string().optional(),
  planId: z.string().optional(),
});

/** Azure `batchUsageEvent` 200: a status per event, failures included (`Duplicate` carries the accepted event). */
export const AzureBatchUsageResponseSchema = z.looseObject({
  count: z.number().int().nonnegative(),
  result: z.array(
    AzureEventEcho.extend({
      error: z
        .looseObject({
          code: z.string().optional(),
          message: z.string().optional(),
          additionalInfo: z.looseObject({ acceptedMessage: AzureEventEcho.optional() }).optional(),
        })
        .optional(),
    }),
  ),
});

/** Azure's error body (400, 403, 409 of the single-event API). */
export const AzureErrorBodySchema = z.looseObject({ code: z.string().optional(), message: z.string().optional() });

/** Google Service Control `services.report` 200: partial failures, one per failed operation. */
export const GcpReportResponseSchema = z.looseObject({
  reportErrors: z
    .array(
      z.looseObject({
        operationId: z.string(),
        status: z.looseObject({ code: z.number().int(), message: z.string().optional() }),
      }),
    )
    .optional(),
  serviceConfigId: z.string().optional(),
  serviceRolloutId: z.string().optional(),
});

/** Google's error body: `{ error: { code, message, status } }`. */
export const GcpErrorBodySchema = z.looseObject({
  error: z.looseObject({ code: z.number().optional(), message: z.string().optional(), status: z.string().optional() }),
});

/** google.rpc.Code names, for reasons people read. */
export const GOOGLE_RPC_CODES: Readonly<Record<number, string>> = {
  1: 'CANCELLED',
  2: 'UNKNOWN',
  3: 'INVALID_ARGUMENT',
  4: 'DEADLINE_EXCEEDED',
  5: 'NOT_FOUND',
  6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED',
  8: 'RESOURCE_EXHAUSTED',
  9: 'FAILED_PRECONDITION',
  10: 'ABORTED',
  11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED',
  13: 'INTERNAL',
  14: 'UNAVAILABLE',
  16: 'UNAUTHENTICATED',
};
