/**
 * How long the single-use tokens sent by email stay valid. Auth enforces them; notify quotes them
 * in the emails and stops retrying a send once its link would be dead. Kept free of Nest and of
 * either module so both can import it.
 */
export const EMAIL_CONFIRMATION_TOKEN_TTL_SECONDS = 48 * 60 * 60;
export const PASSWORD_RESET_TOKEN_TTL_SECONDS = 60 * 60;
