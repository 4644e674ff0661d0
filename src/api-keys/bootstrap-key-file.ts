import fs from 'node:fs';
import path from 'node:path';

export const BOOTSTRAP_KEY_FILE = 'admin-api-key';

/**
 * Writes the bootstrap admin key to DATA_DIR/admin-api-key, readable by this user alone (0600 in
 * a 0700 folder it creates). Through a fresh file renamed into place, so a file left by an earlier
 * deployment, whatever its mode, is replaced rather than written through.
 */
export function writeBootstrapKeyFile(dataDir: string, token: string): string {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, BOOTSTRAP_KEY_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(temp, `${token}\n`, { mode: 0o600, flag: 'wx' });
    fs.renameSync(temp, file);
  } catch (err) {
    fs.rmSync(temp, { force: true });
    throw err;
  }
  return file;
}

/** What an operator at a terminal sees; never sent where stdout is collected (a pipe, a file, a log shipper). */
export function printBootstrapKeyIfTerminal(out: { isTTY?: boolean; write(text: string): unknown }, token: string, file: string): boolean {
  if (!out.isTTY) return false;
  out.write(
    `\n  No API key existed, so an admin key was created (also in ${file}, readable only by this user):\n\n    ${token}\n\n` +
      `  Use it as "Authorization: Bearer <key>" (Swagger UI: Authorize). Create scoped keys with POST /api/email-provider/api-keys/\n` +
      `  or npm run cli -- api-keys:create --name NAME --scopes SCOPE,SCOPE.\n\n`,
  );
  return true;
}
