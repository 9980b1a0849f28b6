/**
 * Arrow IPC file from a Parquet file DuckDB wrote: parquet-wasm decodes row groups to Arrow (much faster than
 * building vectors value by value in JS), apache-arrow writes them as one IPC *file*. Row groups are converted
 * a few at a time, so the WASM heap never holds a whole large table.
 */
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import { RecordBatchFileWriter, tableFromIPC } from 'apache-arrow';
import { readParquet } from 'parquet-wasm/node';

/** `groups` is the Parquet file's row-group count (DuckDB's parquet_metadata tells it). */
export async function parquetToArrowFile(parquetPath: string, arrowPath: string, groups: number, rowGroupsPerChunk = 8): Promise<number> {
  const bytes = new Uint8Array(await readFile(parquetPath));
  const out = createWriteStream(arrowPath);
  const writer = new RecordBatchFileWriter();
  const piped = writer.toNodeStream();
  piped.pipe(out);
  let rows = 0;
  for (let g = 0; g < Math.max(groups, 1); g += rowGroupsPerChunk) {
    const ids = Array.from({ length: Math.min(rowGroupsPerChunk, groups - g) }, (_, i) => g + i);
    const wasmTable = readParquet(bytes, groups === 0 ? undefined : { rowGroups: ids });
    // intoIPCStream hands the WASM table over (it frees it).
    const table = tableFromIPC(wasmTable.intoIPCStream());
    if (g === 0 && table.batches.length === 0) writer.reset(undefined, table.schema);
    for (const batch of table.batches) {
      writer.write(batch);
      rows += batch.numRows;
    }
  }
  writer.finish();
  await once(out, 'finish');
  return rows;
}
