// Pricing experiments (SPEC §10), the I/O side: simulate a candidate card, run live experiments, read them out.
export {
  createPricingExperiment,
  experimentArmMembers,
  pricingExperimentState,
  stopPricingExperiment,
  type CreateExperimentResult,
  type ExperimentState,
} from './experiments.ts';
export { pricingReadout } from './readout.ts';
export { simulatePricing } from './simulate.ts';
