export type ImageMime = 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';
export type ImageExt = 'png' | 'jpg' | 'webp' | 'gif';

export interface ImageType {
  mime: ImageMime;
  ext: ImageExt;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);
const GIF87A = Buffer.from('GIF87a', 'latin1');
const GIF89A = Buffer.from('GIF89a', 'latin1');
const RIFF = Buffer.from('RIFF', 'latin1');
const WEBP = Buffer.from('WEBP', 'latin1');

/**
 * The image format of bytes, judged by their magic numbers alone: a client's filename and
 * Content-Type are claims, the first bytes are evidence. Undefined for anything else, including
 * SVG (text that browsers may run as script).
 */
export function detectImageType(bytes: Buffer): ImageType | undefined {
  if (startsWith(bytes, PNG_SIGNATURE)) return { mime: 'image/png', ext: 'png' };
  if (startsWith(bytes, JPEG_SOI)) return { mime: 'image/jpeg', ext: 'jpg' };
  if (startsWith(bytes, GIF87A) || startsWith(bytes, GIF89A)) return { mime: 'image/gif', ext: 'gif' };
  // RIFF <4-byte little-endian size> WEBP: the size varies, the two tags do not.
  if (startsWith(bytes, RIFF) && startsWith(bytes, WEBP, 8)) return { mime: 'image/webp', ext: 'webp' };
  return undefined;
}

function startsWith(bytes: Buffer, magic: Buffer, offset = 0): boolean {
  return bytes.length >= offset + magic.length && bytes.subarray(offset, offset + magic.length).equals(magic);
}
