import { DomainError, ValidationError } from '../common/errors/domain-error.js';
import { resolveError } from '../common/errors/error-body.js';
import { textProblem } from '../common/validation/no-nul.js';
import type { FrameId, ServerEvent } from './server-events.js';

/** A client frame once parsed: what the handler sees (`payload`) is the frame without `type` and `id`. */
export interface ClientFrame {
  type: string;
  id?: FrameId;
  payload: Record<string, unknown>;
}

const MAX_ID_LENGTH = 128;

/**
 * The result of reading one text frame: the frame, or the error to answer with (and the id when
 * it could be read, so even a refused frame is answered under its id).
 */
export type ParsedFrame = { ok: true; frame: ClientFrame } | { ok: false; error: DomainError; id?: FrameId };

export function parseFrame(data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ParsedFrame {
  if (isBinary)
    return { ok: false, error: new ValidationError('Frames are JSON text; binary frames are not accepted.', undefined, 'INVALID_FRAME') };
  const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, error: new ValidationError('The frame is not valid JSON.', undefined, 'MALFORMED_JSON') };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: invalid('A frame is a JSON object like { "type": "ping" }.') };
  }
  const { type, id, ...payload } = value as Record<string, unknown>;
  const idOk =
    id === undefined ||
    // Echoed in every answer: NUL and half a surrogate pair are refused here as anywhere else in a frame.
    (typeof id === 'string' && id.length <= MAX_ID_LENGTH && textProblem(id) === undefined) ||
    // Past 2^53 JSON numbers lose digits: the answer would carry another id than the one sent.
    (typeof id === 'number' && Number.isFinite(id) && Math.abs(id) <= Number.MAX_SAFE_INTEGER);
  if (!idOk)
    return {
      ok: false,
      error: invalid(
        `"id" must be a string of at most ${MAX_ID_LENGTH} characters (no NUL, no half of a surrogate pair) or a number of at most 2^53 - 1.`,
        'id',
      ),
    };
  // Any string: one no handler takes ("PING", "toString", "") is answered as unknown where "launch"
  // is, after the socket's state (authenticated, draining) has had its say.
  if (typeof type !== 'string') {
    return { ok: false, error: invalid('A frame needs a "type" such as "ping" or "send_message".', 'type'), id: id as FrameId | undefined };
  }
  return { ok: true, frame: { type, id: id as FrameId | undefined, payload } };
}

function invalid(message: string, field?: string): ValidationError {
  return new ValidationError(message, field ? [{ field, message }] : undefined, 'INVALID_FRAME');
}

/** The contract's frames that a feature module serves: with it switched off, the error says so. */
const MODULE_FRAMES: Readonly<Record<string, string>> = {
  send_message: 'messages',
  typing: 'messages',
  mark_read: 'messages',
  sync: 'messages',
};

/** No handler takes this frame: a type that does not exist, or one whose module is switched off here. */
export function unknownType(type: string): ValidationError {
  const module = Object.hasOwn(MODULE_FRAMES, type) ? MODULE_FRAMES[type] : undefined;
  // Quoted as JSON, and cut short: the type is the client's, of any length and any characters.
  const shown = JSON.stringify(type.length > 64 ? `${type.slice(0, 64)}…` : type);
  const message = module
    ? `${shown} is served by the ${module} module, which this server runs without (MODULES).`
    : `Unknown frame type ${shown}.`;
  return new ValidationError(
    message,
    [{ field: 'type', message: module ? message : `${shown} is not a frame type` }],
    'UNKNOWN_FRAME_TYPE',
  );
}

/** The `error` frame for anything thrown: the REST error body, `retryAfter` where REST sends Retry-After, and the frame's id. */
export function errorFrame(error: unknown, id?: FrameId): ServerEvent<'error'> & { id?: FrameId } {
  const { body, retryAfterSeconds } = resolveError(error);
  return Object.assign(
    { type: 'error' as const },
    body,
    retryAfterSeconds !== undefined ? { retryAfter: retryAfterSeconds } : {},
    id !== undefined ? { id } : {},
  );
}

/** A reply to a frame carries that frame's id. */
export function withId<T extends object>(frame: T, id: FrameId | undefined): T & { id?: FrameId } {
  return id === undefined ? frame : Object.assign({}, frame, { id });
}
