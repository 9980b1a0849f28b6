/**
 * A reader that stops early (`dtsen sql … | head -1`) closes the pipe: further writes fail with EPIPE. That is
 * not an error of the command: the rest of the output is dropped quietly (no stack trace) and the command ends
 * as it would have.
 */
const guarded = new WeakSet<NodeJS.WritableStream>();

export function quietOnClosedPipe(out: NodeJS.WritableStream): void {
  if (guarded.has(out)) return;
  guarded.add(out);
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') {
      // Later writes go nowhere instead of raising again.
      (out as NodeJS.WritableStream & { destroy?: () => void }).destroy?.();
      return;
    }
    throw e;
  });
}
