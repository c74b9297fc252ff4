/** The console users' password in tests (long enough for the password rule). */
export const TEST_PASSWORD = 'correct horse battery staple';
