import { type CallHandler, type ExecutionContext, HttpException, Injectable } from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import { memoryStorage } from 'multer';
import type { Request, Response } from 'express';
import type { Observable } from 'rxjs';
import { TooLargeError, UnsupportedMediaError, ValidationError } from '../../common/errors/domain-error.js';
import { refuseOnceOver } from '../../common/http/refuse-once-over.js';
import { AVATAR_MAX_BYTES } from './domain/avatar.js';

export const AVATAR_FIELD = 'file';

/** What multer hands the route: the whole upload in memory (at most AVATAR_MAX_BYTES). */
export interface UploadedImage {
  buffer: Buffer;
  size: number;
  originalname: string;
  mimetype: string;
}

const MultipartAvatar = FileInterceptor(AVATAR_FIELD, {
  storage: memoryStorage(),
  // One file and no other fields: unknown body fields are refused, as everywhere in the API.
  limits: { fileSize: AVATAR_MAX_BYTES, files: 1, fields: 0, parts: 1 },
});

/**
 * Nest's FileInterceptor for the avatar field, with multer's failures turned into the contract's
 * codes: a file over the limit is 413 FILE_TOO_LARGE, a malformed or unexpected part is 400.
 */
@Injectable()
export class AvatarUploadInterceptor extends MultipartAvatar {
  override async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    const request = context.switchToHttp().getRequest<Request>();
    const response = context.switchToHttp().getResponse<Response>();
    // multer passes over a body of any other type, which would then read as "no file": say what is wrong with it.
    const type = request.headers['content-type'];
    if (type && !/^multipart\/form-data\b/i.test(type)) {
      throw new UnsupportedMediaError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Send the avatar as multipart/form-data with the image in the field "${AVATAR_FIELD}", not as ${type.split(';')[0]}.`,
      );
    }
    // Declared larger than any avatar can be (with room for the multipart framing): refused at
    // once, and the connection closed after the answer, rather than after reading it all.
    if (Number(request.headers['content-length']) > AVATAR_MAX_BYTES + MULTIPART_OVERHEAD) {
      response.setHeader('Connection', 'close');
      throw tooLarge();
    }
    // Sent without a length (chunked): refused the moment it passes that size, not once it ends
    // (multer reads a refused body to its end before it answers; see refuseOnceOver). Such a body
    // gets that 413 even when multer has refused it for something else meanwhile (a second part).
    const upload = super.intercept(context, next); // multer starts reading here
    if (request.headers['content-length'] === undefined && request.readableFlowing === true) {
      refuseOnceOver(AVATAR_MAX_BYTES + MULTIPART_OVERHEAD, request, response, tooLarge);
    }
    try {
      return await upload;
    } catch (error) {
      // The client hung up mid-upload (multer says "Request aborted"): its doing, not an error of ours.
      if (request.readableAborted) {
        const message = 'The upload ended before the whole body arrived; send it again.';
        throw new ValidationError(message, [{ field: AVATAR_FIELD, message }]);
      }
      throw translate(error);
    }
  }
}

/** Room in a body for the multipart boundaries and part headers around the image. */
const MULTIPART_OVERHEAD = 64 * 1024;

const tooLarge = () =>
  new TooLargeError('FILE_TOO_LARGE', `The avatar is larger than ${AVATAR_MAX_BYTES / (1024 * 1024)} MiB; send a smaller image.`);

/** multer codes for a body that has something besides the one image. */
const ONE_PART_ONLY = new Set(['LIMIT_UNEXPECTED_FILE', 'LIMIT_FILE_COUNT', 'LIMIT_FIELD_COUNT', 'LIMIT_PART_COUNT']);

function translate(error: unknown): unknown {
  if (!(error instanceof HttpException)) return error;
  const cause = error.cause as { code?: string; field?: string } | undefined;
  switch (error.getStatus()) {
    case 413:
      return tooLarge();
    case 415:
      return new UnsupportedMediaError(
        'UNSUPPORTED_MEDIA_TYPE',
        `Send the avatar as multipart/form-data with the image in the field "${AVATAR_FIELD}".`,
      );
    case 400: {
      if (cause?.code === 'LIMIT_FIELD_COUNT') {
        // A text part (its name is not reported): perhaps the image sent as text rather than as a file.
        const message = `Text fields are not accepted; send the image as a file part named "${AVATAR_FIELD}".`;
        return new ValidationError(message, [{ field: AVATAR_FIELD, message }]);
      }
      const field = cause?.field ?? AVATAR_FIELD;
      // A part of another name is named; a second image under the right name is just one too many.
      const extra = field === AVATAR_FIELD ? 'the body had more than one' : `"${field}" is not accepted`;
      const message = ONE_PART_ONLY.has(cause?.code ?? '')
        ? `Send exactly one part, the image in the field "${AVATAR_FIELD}"; ${extra}.`
        : `The multipart body is malformed: ${error.message}`;
      return new ValidationError(message, [{ field, message }]);
    }
    default:
      return error;
  }
}
