/** The LOCAL accounts; their password skips the sign-up rules on purpose, to be easy to type. */
export const SEED_PASSWORD = 'admin';

export interface SeedUser {
  email: string;
  name: string;
}

export const SEED_USERS: readonly SeedUser[] = [
  { email: 'admin@admin.ru', name: 'Admin' },
  { email: 'api-test@example.com', name: 'API Test' },
  { email: 'user1@example.com', name: 'User One' },
  { email: 'user2@example.com', name: 'User Two' },
  { email: 'user3@example.com', name: 'User Three' },
];
