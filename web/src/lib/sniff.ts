/** What a file's first bytes say it is, for errors that name the mistake ("it looks like a JPEG"). */
export function sniffKind(head: Uint8Array): string | null {
  const at = (i: number, ...b: number[]) => b.every((v, k) => head[i + k] === v);
  const ascii = (i: number, s: string) => at(i, ...[...s].map((c) => c.charCodeAt(0)));
  if (at(0, 0x89, 0x50, 0x4e, 0x47)) return 'a PNG';
  if (at(0, 0xff, 0xd8, 0xff)) return 'a JPEG';
  if (ascii(0, 'GIF8')) return 'a GIF';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'a WebP';
  // torch.save since PyTorch 1.6 writes a zip archive; older ones a bare pickle (protocol 2..5).
  if (at(0, 0x50, 0x4b, 0x03, 0x04)) return 'a zip archive, as a PyTorch .pth checkpoint is';
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'a pickled PyTorch .pth checkpoint';
  return null;
}
