/**
 * Official PyTorch CycleGAN generators (`.safetensors`) → a Stripes checkpoint, in the browser,
 * with the same shared code as `stripes import-torch`: read, check keys and shapes, permute to
 * Stripes layout, encode into content-addressed shards.
 */
import { readSafetensors } from '../../../shared/weights/safetensors.ts';
import { importTorchGenerators } from '../../../shared/weights/torch-import.ts';
import { encodeCheckpoint, type EncodedCheckpoint } from '../../../shared/weights/checkpoint.ts';

async function read(file: File) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  return { tensors: readSafetensors(bytes, file.name).tensors, what: file.name };
}

export async function importTorchFiles(ab: File, ba?: File): Promise<EncodedCheckpoint> {
  const a = await read(ab);
  const b = ba ? await read(ba) : undefined;
  const { config, networks } = importTorchGenerators(a, b);
  return encodeCheckpoint(config, networks, {
    meta: { source: 'import-torch', converged: true, files: [ab.name, ...(ba ? [ba.name] : [])], importedWith: 'web' },
  });
}
