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

/** The run was stopped by a signal (SIGINT exit 130, SIGTERM exit 143); the batch's own cleanup has run. */
export class StoppedError extends Error {
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM',
    /** the stage that was running (or about to run) when the signal came */
    readonly stage?: string,
  ) {
    super(`stopped by ${signal}${stage ? ` during stage ${stage}` : ''}; nothing was published`);
    this.name = 'StoppedError';
  }

  get exitCode(): number {
    return this.signal === 'SIGINT' ? EXIT.sigint : EXIT.sigterm;
  }
}

/** The error's own text and the text of its causes (DuckDB and Node put the useful part in the message or the code). */
function errorText(e: unknown): { message: string; code?: string } {
  if (e && typeof e === 'object') {
    const err = e as { message?: unknown; code?: unknown };
    return { message: String(err.message ?? e), code: typeof err.code === 'string' ? err.code : undefined };
  }
  return { message: String(e) };
}

/**
 * Whether an error is a lack of memory or of disk space, whichever layer raised it: DuckDB's "Out of Memory Error",
 * a failed allocation, "No space left on device" / "could not write", Node's ENOSPC and EDQUOT.
 */
export function resourceKind(e: unknown): 'memory' | 'disk' | undefined {
  if (e instanceof ResourceError) return e.kind;
  const { message, code } = errorText(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'disk';
  if (code === 'ENOMEM' || code === 'ERR_MEMORY_ALLOCATION_FAILED') return 'memory';
  if (/Out of Memory Error|could not allocate|failed to allocate|std::bad_alloc|memory allocation failed/i.test(message)) return 'memory';
  if (/No space left on device|Disk quota exceeded|could not write|ENOSPC|EDQUOT/i.test(message)) return 'disk';
  return undefined;
}

/** DuckDB's error when a running query was interrupted (a cancelled sibling, a signal). */
export function isInterrupted(e: unknown): boolean {
  return /^INTERRUPT Error/i.test(errorText(e).message);
}

/** The file DuckDB or Node failed to write, when the error names it. */
export function failedPath(e: unknown): string | undefined {
  if (e && typeof e === 'object' && typeof (e as { path?: unknown }).path === 'string') return (e as { path: string }).path;
  const m = /(?:file|directory|write to)\s+"([^"]+)"/i.exec(errorText(e).message);
  return m?.[1];
}

/** The first line of an error's message (DuckDB appends advice in further lines). */
export function firstLine(e: unknown): string {
  return errorText(e).message.split('\n')[0];
}
