// Pricing experiments (SPEC §10), the I/O side: simulate a candidate card, run live experiments, read them out.
export {
  createPricingExperiment,
  experimentArmMembers,
  PricingExperimentError,
  pricingExperimentState,
  stopPricingExperiment,
  type CreateExperimentInput,
  type CreateExperimentResult,
  type ExperimentState,
} from './experiments.ts';
export { pricingReadout, type ReadoutReport } from './readout.ts';
export { simulatePricing, SimulationInputError, type SimulationReport } from './simulate.ts';
