/**
 * Official PyTorch CycleGAN generators (`.safetensors`) → a Stripes checkpoint, in the browser,
 * with the same shared code as `stripes import-torch`: read, check keys and shapes, permute to
 * Stripes layout, encode into content-addressed shards.
 */
import { readSafetensors } from '../../../shared/weights/safetensors.ts';
import { importTorchGenerators } from '../../../shared/weights/torch-import.ts';
import { encodeCheckpoint, type EncodedCheckpoint } from '../../../shared/weights/checkpoint.ts';
import { sniffKind } from './sniff.ts';

async function read(file: File) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  // A picture or a .pth picked by mistake gets named, rather than a complaint about its "header length".
  const kind = sniffKind(bytes.subarray(0, 16));
  if (kind) {
    const hint = /PyTorch/.test(kind) ? '; convert it to .safetensors first' : '';
    throw new Error(`${file.name}: this is not a safetensors file (it looks like ${kind}${hint})`);
  }
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
