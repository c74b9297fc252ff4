/** Pricing experiments (SPEC §10), pure: simulation impact, deterministic assignment, the readout's statistics. */
export { assignArms } from './assignment.ts';
export { computeReadout, type CustomerOutcome, type PeriodOutcome, type Readout } from './readout.ts';
export { computeSimulationImpact, type ImpactRow, type SimulatedPeriod } from './simulation-impact.ts';
