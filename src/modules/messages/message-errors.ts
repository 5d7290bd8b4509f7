import { NotFoundError } from '../../common/errors/domain-error.js';

export const messageNotFound = () => new NotFoundError('MESSAGE_NOT_FOUND', 'No such message in this chat.');
