/** What a truth file must cover, and whether an evaluation measured quality (light: the CLI loads it at start-up). */
import type { EvaluationFigures, SkippedEvaluation } from './index.ts';

/**
 * Below this share of the batch's accepted records carrying a truth row, quality figures are not computed: a
 * truth file that matches a handful of records measures nothing (pairs among them say nothing of the batch).
 */
export const MIN_TRUTH_COVERAGE = 0.95;

/** The figures of a run's evaluate stage measured quality (and did not only record the truth's coverage). */
export function measuredQuality(f: EvaluationFigures | SkippedEvaluation | undefined): f is EvaluationFigures {
  return f !== undefined && !('quality_not_measured' in f);
}
