/**
 * The token of an `Authorization: Bearer <token>` header, or undefined for any other header (none,
 * another scheme, a bare `Bearer`). One reading for every place that takes a bearer token, and for
 * the cookie origin check, which lets a request through only when its bearer token, not a cookie,
 * is what authenticates it.
 */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}
