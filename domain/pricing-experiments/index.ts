/** Pricing experiments (SPEC §10), pure: simulation impact, deterministic assignment, the readout's statistics. */
export { armByHash, assignArms, hashFraction, type ExperimentArm } from './assignment.ts';
export {
  computeReadout,
  MINIMUM_CUSTOMERS_PER_ARM,
  recommend,
  type ArmSummary,
  type CustomerOutcome,
  type Effect,
  type PeriodOutcome,
  type Readout,
  type Recommendation,
} from './readout.ts';
export {
  computeSimulationImpact,
  type ImpactDimension,
  type ImpactRow,
  type SimulatedPeriod,
} from './simulation-impact.ts';
export { mean, sampleVariance, studentT975, TooFewObservationsError, welchInterval } from './welch-interval.ts';
