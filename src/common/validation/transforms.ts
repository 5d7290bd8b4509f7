import { domainToASCII } from 'node:url';
import { Transform } from 'class-transformer';
import { normaliseLabel } from '../label.js';

/** normaliseLabel on a string; other types are left for the validators to reject. */
export const LabelForm = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normaliseLabel(value) : value));

/**
 * One form per address, whichever way it was typed: trimmed, NFC (an "ü" typed as u plus a
 * combining mark is the same ü), lower case, and the domain in its ASCII (punycode) form, so
 * `x@bücher.de` and `x@xn--bcher-kva.de` are one address. A domain that has no ASCII form is
 * left as it is, for @IsEmail to refuse.
 */
export function normaliseEmail(email: string): string {
  // NFC last: lower-casing can undo it (Greek ypogegrammeni with an accent, for one).
  const lower = email.trim().toLowerCase().normalize('NFC');
  const at = lower.lastIndexOf('@');
  if (at < 0) return lower;
  const domain = domainToASCII(lower.slice(at + 1));
  return domain ? `${lower.slice(0, at + 1)}${domain}` : lower;
}

/** normaliseEmail on a string; other types are left for the validators to reject. */
export const EmailForm = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? normaliseEmail(value) : value));

/**
 * Query-string numbers: "20" → 20; an empty one (`?limit=`) is left out, as a client building
 * `limit=${x ?? ''}` means; anything else is left for @IsInt to reject.
 */
export const ToInt = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) =>
    value === '' ? undefined : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value,
  );

/** An empty query parameter (`?cursor=`, the first page's) is left out. */
export const EmptyAsAbsent = (): PropertyDecorator => Transform(({ value }: { value: unknown }) => (value === '' ? undefined : value));

/**
 * UUIDs, one or a list, lower-cased (a client may write either case): ids are compared as
 * strings in process, and the database writes them in lower case. Other values are left for the
 * validators to reject.
 */
export const LowerCaseIds = (): PropertyDecorator =>
  Transform(({ value }: { value: unknown }) =>
    typeof value === 'string'
      ? value.toLowerCase()
      : Array.isArray(value)
        ? value.map((v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v))
        : value,
  );
