/** Errors a user can act on (exit code 2) are InputError; anything else is internal (exit code 1). */
export interface InputErrorDetail {
  file?: string;
  row?: number;
  column?: string;
  expected?: string;
  found?: string;
}

export class InputError extends Error {
  constructor(
    message: string,
    readonly detail: InputErrorDetail = {},
  ) {
    super(InputError.format(message, detail));
    this.name = 'InputError';
  }

  private static format(message: string, d: InputErrorDetail): string {
    const where = [d.file && `file ${d.file}`, d.row !== undefined && `row ${d.row}`, d.column && `column ${d.column}`]
      .filter(Boolean)
      .join(', ');
    const parts = [where ? `${where}: ${message}` : message];
    if (d.expected) parts.push(`expected ${d.expected}`);
    if (d.found) parts.push(`found ${d.found}`);
    return parts.join('; ');
  }
}
