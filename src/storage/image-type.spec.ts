import { detectImageType, imageSize } from './image-type.js';

const bytes = (...parts: (number[] | string | Buffer)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

/** The smallest real files of each kind: 1×1 images as their encoders write them. */
const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64');
const GIF89A_1X1 = Buffer.from('R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');
const WEBP_1X1 = Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');
const JPEG_HEADER = bytes([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10], 'JFIF', [0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00]);

describe('detectImageType', () => {
  it('recognises a PNG by its eight-byte signature', () => {
    expect(detectImageType(PNG_1X1)).toEqual({ mime: 'image/png', ext: 'png' });
  });

  it('recognises a JPEG by FF D8 FF, whatever segment follows', () => {
    expect(detectImageType(JPEG_HEADER)).toEqual({ mime: 'image/jpeg', ext: 'jpg' });
    expect(detectImageType(bytes([0xff, 0xd8, 0xff, 0xe1], 'Exif'))).toEqual({ mime: 'image/jpeg', ext: 'jpg' });
  });

  it('recognises both GIF versions', () => {
    expect(detectImageType(GIF89A_1X1)).toEqual({ mime: 'image/gif', ext: 'gif' });
    expect(detectImageType(bytes('GIF87a', [0x01, 0x00, 0x01, 0x00]))).toEqual({ mime: 'image/gif', ext: 'gif' });
  });

  it('recognises a WebP as RIFF with the WEBP form type', () => {
    expect(detectImageType(WEBP_1X1)).toEqual({ mime: 'image/webp', ext: 'webp' });
  });

  it('refuses a RIFF file of another form type (WAVE audio)', () => {
    expect(detectImageType(bytes('RIFF', [0x24, 0x08, 0x00, 0x00], 'WAVEfmt '))).toBeUndefined();
  });

  it('refuses headers cut short before the magic number is complete', () => {
    expect(detectImageType(PNG_1X1.subarray(0, 7))).toBeUndefined();
    expect(detectImageType(bytes([0xff, 0xd8]))).toBeUndefined();
    expect(detectImageType(bytes('GIF89'))).toBeUndefined();
    expect(detectImageType(WEBP_1X1.subarray(0, 11))).toBeUndefined();
    expect(detectImageType(Buffer.alloc(0))).toBeUndefined();
  });

  it('refuses near misses of each signature', () => {
    expect(detectImageType(bytes([0x89], 'PNG', [0x0d, 0x0a, 0x1a, 0x00]))).toBeUndefined();
    expect(detectImageType(bytes([0xff, 0xd8, 0xfe, 0xe0]))).toBeUndefined();
    expect(detectImageType(bytes('GIF88a', [0x01, 0x00]))).toBeUndefined();
    expect(detectImageType(bytes('RIFX', [0x1a, 0, 0, 0], 'WEBPVP8L'))).toBeUndefined();
  });

  it('refuses an SVG and other text, whatever it claims to be', () => {
    const svg = '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>';
    expect(detectImageType(Buffer.from(svg))).toBeUndefined();
    expect(detectImageType(Buffer.from('image/png'))).toBeUndefined();
    expect(detectImageType(Buffer.from('PNG is not enough'))).toBeUndefined();
  });

  it('looks only at the start: a signature later in the file does not count', () => {
    expect(detectImageType(Buffer.concat([Buffer.from('junk'), PNG_1X1]))).toBeUndefined();
  });
});

describe('imageSize', () => {
  /** A PNG whose IHDR declares width × height (the rest of the file is not read). */
  const png = (width: number, height: number) => {
    const header = Buffer.from(PNG_1X1.subarray(0, 24));
    header.writeUInt32BE(width, 16);
    header.writeUInt32BE(height, 20);
    return header;
  };

  it('reads the size each format declares in its header', () => {
    expect(imageSize(PNG_1X1, 'image/png')).toEqual({ width: 1, height: 1 });
    expect(imageSize(png(4032, 3024), 'image/png')).toEqual({ width: 4032, height: 3024 });
    expect(imageSize(png(0xffffffff, 0xffffffff), 'image/png')).toEqual({ width: 0xffffffff, height: 0xffffffff });
    expect(imageSize(GIF89A_1X1, 'image/gif')).toEqual({ width: 1, height: 1 });
    // Screen 320×240, no colour table, a graphic-control extension, then a 320×240 frame at 0,0.
    const extension = [0x21, 0xf9, 0x04, 0, 0, 0, 0, 0x00];
    const frame = (left: number, top: number, width: number, height: number) => {
      const descriptor = Buffer.alloc(10);
      descriptor[0] = 0x2c;
      [left, top, width, height].forEach((v, i) => descriptor.writeUInt16LE(v, 1 + 2 * i));
      return descriptor;
    };
    const gif = (screen: number[], ...rest: Buffer[]) => bytes('GIF89a', screen, [0, 0, 0], ...rest.map((b) => [...b]));
    expect(imageSize(gif([0x40, 0x01, 0xf0, 0x00], Buffer.from(extension), frame(0, 0, 320, 240)), 'image/gif')).toEqual({
      width: 320,
      height: 240,
    });
    // A frame larger than its screen is drawn at its own size, as is a frame on a 0×0 screen.
    expect(imageSize(gif([1, 0, 1, 0], frame(0, 0, 65535, 65535)), 'image/gif')).toEqual({ width: 65535, height: 65535 });
    expect(imageSize(gif([0, 0, 0, 0], frame(10, 20, 100, 50)), 'image/gif')).toEqual({ width: 110, height: 70 });
    expect(imageSize(WEBP_1X1, 'image/webp')).toEqual({ width: 1, height: 1 });
  });

  it('reads a lossy (VP8) and an extended (VP8X) WebP', () => {
    const riff = (chunk: string, body: number[]) => bytes('RIFF', [0, 0, 0, 0], 'WEBP', chunk, [0, 0, 0, 0], body);
    // VP8: frame tag (3), start code 9D 01 2A, width and height 14 bits each (little-endian).
    expect(imageSize(riff('VP8 ', [0, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01]), 'image/webp')).toEqual({ width: 640, height: 480 });
    // VP8X: flags (4), then canvas width - 1 and height - 1, 24 bits each.
    expect(imageSize(riff('VP8X', [0, 0, 0, 0, 0x7f, 0x02, 0x00, 0xdf, 0x01, 0x00]), 'image/webp')).toEqual({ width: 640, height: 480 });
  });

  it('finds the frame header of a JPEG past the segments before it', () => {
    // SOF0: length, precision, height 16, width 32.
    const sof = [0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x10, 0x00, 0x20, 0x03];
    expect(imageSize(bytes(JPEG_HEADER, sof), 'image/jpeg')).toEqual({ width: 32, height: 16 });
    // A progressive frame (SOF2) after a comment, with fill bytes before its marker.
    const comment = [0xff, 0xfe, 0x00, 0x05, 0x61, 0x62, 0x63];
    expect(imageSize(bytes(JPEG_HEADER, comment, [0xff, 0xff, 0xc2, 0x00, 0x11, 0x08, 0x01, 0xe0, 0x02, 0x80]), 'image/jpeg')).toEqual({
      width: 640,
      height: 480,
    });
  });

  it('has no size for a header cut short, malformed or declaring zero pixels', () => {
    expect(imageSize(PNG_1X1.subarray(0, 8), 'image/png')).toBeUndefined();
    expect(imageSize(PNG_1X1.subarray(0, 23), 'image/png')).toBeUndefined();
    expect(imageSize(png(0, 10), 'image/png')).toBeUndefined();
    expect(imageSize(bytes('GIF89a', [0x01]), 'image/gif')).toBeUndefined();
    expect(imageSize(bytes('GIF89a', [1, 0, 1, 0, 0, 0, 0]), 'image/gif')).toBeUndefined(); // no frame
    expect(imageSize(bytes('GIF89a', [1, 0, 1, 0, 0, 0, 0, 0x2c, 0, 0]), 'image/gif')).toBeUndefined(); // descriptor cut short
    expect(imageSize(WEBP_1X1.subarray(0, 12), 'image/webp')).toBeUndefined();
    expect(imageSize(bytes('RIFF', [0, 0, 0, 0], 'WEBP'), 'image/webp')).toBeUndefined();
    expect(imageSize(JPEG_HEADER, 'image/jpeg')).toBeUndefined();
    // Scan data before any frame header.
    expect(imageSize(bytes(JPEG_HEADER, [0xff, 0xda, 0x00, 0x08]), 'image/jpeg')).toBeUndefined();
  });
});
