/**
 * Below this share of the batch's accepted records carrying a truth row, quality figures are not computed: a
 * truth file that matches a handful of records measures nothing (pairs among them say nothing of the batch).
 */
export const MIN_TRUTH_COVERAGE = 0.95;
