/**
 * Errors and exit codes. Errors a user can act on are InputError (exit 2); a lack of memory or disk is a
 * ResourceError (exit 3 or 4); a batch folder held by another run is a LockedError (exit 5); anything else is
 * internal (exit 1). Signals end a run with 128 + the signal's number (SIGINT 130, SIGTERM 143).
 */
export const EXIT = {
  ok: 0,
  internal: 1,
  input: 2,
  outOfMemory: 3,
  diskFull: 4,
  locked: 5,
  sigint: 130,
  sigterm: 143,
} as const;

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

/** The machine ran out of something the batch needs: memory (exit 3) or disk space (exit 4). */
export class ResourceError extends Error {
  constructor(
    readonly kind: 'memory' | 'disk',
    message: string,
  ) {
    super(message);
    this.name = 'ResourceError';
  }

  get exitCode(): number {
    return this.kind === 'memory' ? EXIT.outOfMemory : EXIT.diskFull;
  }
}

/** The batch folder is being written by another run (exit 5). */
export class LockedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockedError';
  }
}
