/**
 * Arrow IPC file from a Parquet file DuckDB wrote: parquet-wasm decodes row groups to Arrow (much faster than
 * building vectors value by value in JS), apache-arrow writes them as one IPC *file*, one record batch per row
 * group. Row groups are converted one at a time, so the WASM heap never holds a whole large table.
 *
 * The writer emits one small chunk per buffer (several per column and batch, ~10^5 for a million persons); they
 * are taken from its queue after every batch and gathered into large blocks before they reach the file (a write
 * per chunk through a Node stream cost more than the decoding itself).
 */
import { open, readFile } from 'node:fs/promises';
import { RecordBatchFileWriter, tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';

const BLOCK_BYTES = 16 << 20;
/** One record batch per row group (parquet-wasm's default of 1,024 rows makes ~100 times more batches and chunks). */
export const ROW_GROUP_ROWS = 122_880;

/** `groups` is the Parquet file's row-group count (DuckDB's parquet_metadata tells it). */
export async function parquetToArrowFile(parquetPath: string, arrowPath: string, groups: number, rowGroupsPerChunk = 1, signal?: AbortSignal): Promise<number> {
  signal?.throwIfAborted();
  const bytes = new Uint8Array(await readFile(parquetPath));
  const file = await open(arrowPath, 'w');
  try {
    const writer = new RecordBatchFileWriter();
    // The sink drains the writer's queue concurrently: it runs whenever the loop below awaits. Its failure (a full
    // disk) is kept and rethrown by the loop, never left as an unhandled rejection.
    let sinkError: { error: unknown } | undefined;
    const sink = (async () => {
      let pending: Uint8Array[] = [];
      let size = 0;
      for await (const chunk of writer) {
        pending.push(chunk);
        size += chunk.byteLength;
        if (size >= BLOCK_BYTES) {
          await file.write(Buffer.concat(pending, size));
          pending = [];
          size = 0;
        }
      }
      if (size > 0) await file.write(Buffer.concat(pending, size));
    })().catch((error: unknown) => {
      sinkError = { error };
    });
    let rows = 0;
    try {
      for (let g = 0; g < Math.max(groups, 1); g += rowGroupsPerChunk) {
        // Stopped, a sibling failed, or the file cannot be written: end between row groups.
        signal?.throwIfAborted();
        if (sinkError) throw sinkError.error;
        const ids = Array.from({ length: Math.min(rowGroupsPerChunk, groups - g) }, (_, i) => g + i);
        const wasmTable = readParquet(bytes, groups === 0 ? undefined : { rowGroups: ids, batchSize: ROW_GROUP_ROWS });
        // intoIPCStream hands the WASM table over (it frees it).
        const table = tableFromIPC(wasmTable.intoIPCStream());
        if (g === 0 && table.batches.length === 0) writer.reset(undefined, table.schema);
        for (const batch of table.batches) {
          writer.write(batch);
          rows += batch.numRows;
          // Let the sink take this batch's chunks now: the writer's queue hands chunks out with Array.shift, so a
          // long queue costs quadratic time.
          await new Promise((r) => setImmediate(r));
        }
      }
    } finally {
      // Ends the sink's loop on failure too (else it would wait for chunks forever).
      writer.finish();
      await sink;
    }
    if (sinkError) throw sinkError.error;
    return rows;
  } finally {
    await file.close();
  }
}
