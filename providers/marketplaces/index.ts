import type { MarketplaceKind } from '../../contracts/contract.ts';
import { AwsMeteringAdapter, type AwsMeteringOptions } from './aws-metering-adapter.ts';
import { AzureMeteringAdapter, type AzureMeteringOptions } from './azure-metering-adapter.ts';
import { GcpServiceControlAdapter, type GcpServiceControlOptions } from './gcp-service-control-adapter.ts';
import type { MarketplaceAdapter } from './marketplace-adapter.ts';

export { AwsMeteringAdapter, type AwsMeteringOptions } from './aws-metering-adapter.ts';
export { AzureMeteringAdapter, type AzureMeteringOptions } from './azure-metering-adapter.ts';
export { GcpServiceControlAdapter, type GcpServiceControlOptions } from './gcp-service-control-adapter.ts';
export { MarketplaceCallError, type MarketplaceAdapter, type RecordAnswer } from './marketplace-adapter.ts';

/** The adapters of one process: one per marketplace it has an endpoint and credentials for. */
export type MarketplaceAdapters = Partial<Record<MarketplaceKind, MarketplaceAdapter>>;

export function createMarketplaceAdapters(options: {
  aws?: AwsMeteringOptions;
  azure?: AzureMeteringOptions;
  gcp?: GcpServiceControlOptions;
}): MarketplaceAdapters {
  return {
    ...(options.aws === undefined ? {} : { aws: new AwsMeteringAdapter(options.aws) }),
    ...(options.azure === undefined ? {} : { azure: new AzureMeteringAdapter(options.azure) }),
    ...(options.gcp === undefined ? {} : { gcp: new GcpServiceControlAdapter(options.gcp) }),
  };
}
