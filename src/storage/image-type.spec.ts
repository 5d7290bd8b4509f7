import { detectImageType } from './image-type.js';

const bytes = (...parts: (number[] | string)[]) =>
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
