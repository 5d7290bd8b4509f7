import { BadRequestException, NotFoundException } from '@nestjs/common';
import mongoose from 'mongoose';
import { resolveError } from './error-body.js';

describe('resolveError', () => {
  it('says where the routes are listed when no route takes the path, and leaves other 404s as they are', () => {
    expect(resolveError(new NotFoundException('Cannot GET /api/v1')).body).toEqual({
      statusCode: 404,
      error: 'Not Found',
      code: 'NOT_FOUND',
      message: 'Cannot GET /api/v1: no such route (the routes are listed at /api/docs)',
    });
    expect(resolveError(new NotFoundException('No such thing here')).body.message).toBe('No such thing here');
    expect(resolveError(new BadRequestException('Cannot GET /x')).body.message).toBe('Cannot GET /x');
  });

  it('answers an outage 503 SERVICE_UNAVAILABLE with a Retry-After', () => {
    const resolved = resolveError(new mongoose.mongo.MongoNotConnectedError('not connected'));
    expect(resolved.body).toMatchObject({ statusCode: 503, code: 'SERVICE_UNAVAILABLE' });
    expect(resolved.retryAfterSeconds).toBeGreaterThan(0);
  });
});
