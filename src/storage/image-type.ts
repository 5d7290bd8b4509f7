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

export interface ImageSize {
  width: number;
  height: number;
}

/** JPEG start-of-frame markers (SOF0–SOF15 but DHT C4, JPG C8 and DAC CC), which carry the size. */
const JPEG_SOF = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

/**
 * The pixel size an image's header declares, read without decoding it; undefined when the header
 * is cut short or malformed. What a viewer would allocate to show it: a few bytes can declare a
 * picture of billions of pixels.
 */
export function imageSize(bytes: Buffer, mime: ImageMime): ImageSize | undefined {
  const size = (width: number, height: number) => (width > 0 && height > 0 ? { width, height } : undefined);
  switch (mime) {
    case 'image/png':
      // Signature, then the IHDR chunk first: length (4), "IHDR", width (4), height (4).
      if (bytes.length < 24 || bytes.toString('latin1', 12, 16) !== 'IHDR') return undefined;
      return size(bytes.readUInt32BE(16), bytes.readUInt32BE(20));
    case 'image/gif':
      return gifSize(bytes, size);
    case 'image/webp':
      return webpSize(bytes, size);
    case 'image/jpeg':
      return jpegSize(bytes, size);
  }
}

/**
 * A GIF's logical screen, grown to hold its first frame: browsers draw a frame larger than the
 * screen it declares (or a screen of 0×0) at the frame's own size.
 */
function gifSize(bytes: Buffer, size: (w: number, h: number) => ImageSize | undefined): ImageSize | undefined {
  if (bytes.length < 13) return undefined;
  const [screenWidth, screenHeight, flags] = [bytes.readUInt16LE(6), bytes.readUInt16LE(8), bytes[10]];
  let at = 13 + (flags & 0x80 ? 3 * 2 ** ((flags & 0x07) + 1) : 0); // past the global colour table
  while (at < bytes.length) {
    const block = bytes[at];
    if (block === 0x2c) {
      // Image descriptor: left, top, width, height (16 bits each).
      if (at + 9 > bytes.length) return undefined;
      const right = bytes.readUInt16LE(at + 1) + bytes.readUInt16LE(at + 5);
      const bottom = bytes.readUInt16LE(at + 3) + bytes.readUInt16LE(at + 7);
      return size(Math.max(screenWidth, right), Math.max(screenHeight, bottom));
    }
    if (block !== 0x21 || at + 2 > bytes.length) return undefined; // only extensions may come first
    at += 2; // introducer and label, then sub-blocks until one of length 0
    while (at < bytes.length && bytes[at] !== 0) at += bytes[at] + 1;
    at += 1;
  }
  return undefined;
}

function webpSize(bytes: Buffer, size: (w: number, h: number) => ImageSize | undefined): ImageSize | undefined {
  const chunk = bytes.length >= 16 ? bytes.toString('latin1', 12, 16) : '';
  if (chunk === 'VP8 ' && bytes.length >= 30 && bytes[23] === 0x9d && bytes[24] === 0x01 && bytes[25] === 0x2a)
    return size(bytes.readUInt16LE(26) & 0x3fff, bytes.readUInt16LE(28) & 0x3fff);
  if (chunk === 'VP8L' && bytes.length >= 25 && bytes[20] === 0x2f) {
    const bits = bytes.readUInt32LE(21);
    return size((bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1);
  }
  if (chunk === 'VP8X' && bytes.length >= 30) return size(bytes.readUIntLE(24, 3) + 1, bytes.readUIntLE(27, 3) + 1);
  return undefined;
}

function jpegSize(bytes: Buffer, size: (w: number, h: number) => ImageSize | undefined): ImageSize | undefined {
  let at = 2; // past SOI
  while (at + 4 <= bytes.length) {
    if (bytes[at] !== 0xff) return undefined;
    const marker = bytes[at + 1];
    if (marker === 0xff) {
      at += 1; // fill byte
      continue;
    }
    // Markers without a length: TEM and RST0–7 (SOI/EOI do not come before a frame header).
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      at += 2;
      continue;
    }
    if (marker === 0xda || marker === 0xd9) return undefined; // scan data or the end, and no frame header yet
    const length = bytes.readUInt16BE(at + 2);
    if (JPEG_SOF.has(marker)) return at + 9 <= bytes.length ? size(bytes.readUInt16BE(at + 7), bytes.readUInt16BE(at + 5)) : undefined;
    if (length < 2) return undefined;
    at += 2 + length;
  }
  return undefined;
}
