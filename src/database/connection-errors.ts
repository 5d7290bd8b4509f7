import { redact } from '../config/env-reader.js';
import { SetupError } from '../common/errors/setup-error.js';
import { errorMessage } from '../common/errors/error-message.js';

/** Socket failures: nothing answers there, or something that drops the connection (not PostgreSQL, or a firewall). */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'EAI_AGAIN']);
/** TLS failures: what sslmode asks of the server, or of its certificate, it does not give. */
const TLS_TROUBLE = /SSL|TLS|certificate|CERT_|self[- ]signed/i;

/** Turns a driver error into a sentence that names the setting to fix. */
export function explainConnectionError(error: unknown, url: string): Error {
  const code = (error as { code?: string }).code;
  const detail = errorMessage(error);
  const where = redact(url);
  if ((code !== undefined && UNREACHABLE.has(code)) || /timeout|^Connection terminated/i.test(detail)) {
    return new SetupError(
      `DATABASE_URL is unreachable: ${detail} (${where}). Start PostgreSQL there, fix DATABASE_URL, or unset it to use the embedded database.`,
    );
  }
  if (code === '3D000') {
    return new SetupError(`DATABASE_URL names a database that does not exist: ${detail} (${where}). Create it (createdb) or fix the name.`);
  }
  if (code === '28P01' || code === '28000') {
    return new SetupError(`DATABASE_URL was refused by the server: ${detail} (${where}). Check the user name and password.`);
  }
  if (TLS_TROUBLE.test(detail) || (code !== undefined && TLS_TROUBLE.test(code))) {
    return new SetupError(
      `DATABASE_URL's TLS connection failed: ${detail} (${where}). Match sslmode in DATABASE_URL to the server: leave it out (or sslmode=disable) for one without TLS, or give the server's CA (sslrootcert) to verify its certificate.`,
    );
  }
  // Not recognised: perhaps the server, perhaps a bug (TypeORM builds its entity metadata in the
  // same call), so the original goes along with its stack.
  return new Error(
    `DATABASE_URL could not be used: ${detail} (${where}). Check that PostgreSQL answers there, fix DATABASE_URL, or unset it to use the embedded database.`,
    { cause: error },
  );
}
