/** What `dtsen sql` accepts, in words (its own module: the CLI's help text needs it without loading DuckDB). */
export const READ_STATEMENTS = 'one read statement: SELECT (also WITH, VALUES, FROM …), DESCRIBE, SHOW, SUMMARIZE, a PRAGMA that reads, or EXPLAIN [ANALYZE] of a SELECT';
