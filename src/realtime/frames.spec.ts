import { ConflictError } from '../common/errors/domain-error.js';
import { errorFrame, parseFrame, unknownType } from './frames.js';

const text = (value: string) => Buffer.from(value);

describe('parseFrame', () => {
  it('splits a frame into type, id and the payload handlers see', () => {
    expect(parseFrame(text('{"type":"send_message","id":"m1","chatId":"c","text":"hi"}'), false)).toEqual({
      ok: true,
      frame: { type: 'send_message', id: 'm1', payload: { chatId: 'c', text: 'hi' } },
    });
  });

  it('accepts numeric ids and frames without one', () => {
    expect(parseFrame(text('{"type":"ping","id":7}'), false)).toEqual({ ok: true, frame: { type: 'ping', id: 7, payload: {} } });
    const largest = Number.MAX_SAFE_INTEGER;
    expect(parseFrame(text(`{"type":"ping","id":${largest}}`), false)).toMatchObject({ ok: true, frame: { id: largest } });
    expect(parseFrame(text('{"type":"ping"}'), false)).toEqual({ ok: true, frame: { type: 'ping', id: undefined, payload: {} } });
  });

  it.each([
    ['not JSON', '{"type":', 'MALFORMED_JSON'],
    ['a JSON string', '"ping"', 'INVALID_FRAME'],
    ['null', 'null', 'INVALID_FRAME'],
    ['an array', '[{"type":"ping"}]', 'INVALID_FRAME'],
    ['a missing type', '{"id":"x"}', 'INVALID_FRAME'],
    ['a type that is not a string', '{"type":["ping"]}', 'INVALID_FRAME'],
    ['an object id', '{"type":"ping","id":{}}', 'INVALID_FRAME'],
    ['an overlong id', `{"type":"ping","id":"${'x'.repeat(129)}"}`, 'INVALID_FRAME'],
    ['an id with a NUL', '{"type":"ping","id":"a\\u0000b"}', 'INVALID_FRAME'],
    ['an id with half a surrogate pair', '{"type":"ping","id":"\\udc00x"}', 'INVALID_FRAME'],
    ['an id past 2^53, which JSON numbers cannot hold exactly', '{"type":"ping","id":9007199254740993}', 'INVALID_FRAME'],
  ])('refuses %s', (_label, raw, code) => {
    const parsed = parseFrame(text(raw), false);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error.code).toBe(code);
  });

  it('keeps the id of a frame refused for its type, so the error can carry it', () => {
    expect(parseFrame(text('{"type":5,"id":"k"}'), false)).toMatchObject({ ok: false, id: 'k' });
  });

  it.each(['', 'Send Message', 'PING', 'toString', '__proto__'])(
    'takes any string type (%j): one no handler takes is answered later',
    (type) => {
      expect(parseFrame(text(JSON.stringify({ type, id: 'k' })), false)).toEqual({ ok: true, frame: { type, id: 'k', payload: {} } });
    },
  );

  it('quotes an unknown type as JSON, cut short, whatever it holds', () => {
    expect(unknownType(`a\u0000${'b'.repeat(100)}`).message).toBe(`Unknown frame type ${JSON.stringify(`a\u0000${'b'.repeat(62)}…`)}.`);
  });

  it('refuses binary frames', () => {
    expect(parseFrame(text('{"type":"ping"}'), true)).toMatchObject({ ok: false, error: { code: 'INVALID_FRAME' } });
  });

  it('reads fragmented data', () => {
    expect(parseFrame([text('{"type":'), text('"ping"}')], false)).toMatchObject({ ok: true, frame: { type: 'ping' } });
  });
});

describe('errorFrame', () => {
  it('has the REST error shape plus the frame id', () => {
    expect(errorFrame(new ConflictError('CHAT_TITLE_TAKEN', 'Taken.'), 'f1')).toEqual({
      type: 'error',
      statusCode: 409,
      error: 'Conflict',
      code: 'CHAT_TITLE_TAKEN',
      message: 'Taken.',
      id: 'f1',
    });
  });

  it('hides the details of unexpected errors', () => {
    expect(errorFrame(new Error('password=hunter2'))).toEqual({
      type: 'error',
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'INTERNAL_ERROR',
      message: 'Something went wrong on our side.',
    });
  });
});
