/** NIK facts the blocking rules and the comparisons share. */

/** NIK statuses (normalise) whose 16 digits are usable for linkage: not a placeholder, a family-card number or a bad serial. */
export const USABLE_NIK_STATUSES = ['valid', 'bad_province', 'bad_month', 'bad_day'] as const;

/** SQL: the record under `alias` carries a usable NIK. */
export function usableNikSql(alias: string): string {
  return `${alias}.nik_status IN (${USABLE_NIK_STATUSES.map((s) => `'${s}'`).join(', ')})`;
}
