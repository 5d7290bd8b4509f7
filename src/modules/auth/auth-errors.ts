import { UnauthenticatedError } from '../../common/errors/domain-error.js';

/** The session a token belongs to was signed out or revoked, or its user is gone: the client signs in again. */
export const sessionEnded = () => new UnauthenticatedError('SESSION_REVOKED', 'This session has ended; sign in again.');
