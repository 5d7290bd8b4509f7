import { UnauthenticatedError } from '../../common/errors/domain-error.js';

/** The session a token belongs to was signed out or revoked, or its user is gone: the client signs in again. */
export const sessionEnded = () => new UnauthenticatedError('SESSION_REVOKED', 'This session has ended; sign in again.');

/** A token that is not one Parley issued, or not of the kind asked for; `detail` says which, where it helps. */
export const tokenInvalid = (detail = 'The token is invalid.') => new UnauthenticatedError('TOKEN_INVALID', detail);

/** An access token past its time, on REST and on the WebSocket alike (a refresh token's is REFRESH_EXPIRED). */
export const tokenExpired = () => new UnauthenticatedError('TOKEN_EXPIRED', 'The access token has expired; refresh it or sign in again.');

/** A sign-in refused, without saying whether the email or the password was wrong. */
export const invalidCredentials = () => new UnauthenticatedError('INVALID_CREDENTIALS', 'The email or password is wrong.');
