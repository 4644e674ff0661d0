import { describe, expect, it } from '@jest/globals';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { printBootstrapKeyIfTerminal, writeBootstrapKeyFile } from './bootstrap-key-file.js';

const TOKEN = `epk_0123abcd_${'k'.repeat(43)}`;
const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'bootstrap-key-'));

describe(writeBootstrapKeyFile.name, () => {
  it('should write the key to DATA_DIR/admin-api-key readable only by this user, creating DATA_DIR', () => {
    const dataDir = path.join(tempDir(), 'data');
    const file = writeBootstrapKeyFile(dataDir, TOKEN);
    expect(file).toBe(path.join(dataDir, 'admin-api-key'));
    expect(fs.readFileSync(file, 'utf8')).toBe(`${TOKEN}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dataDir).mode & 0o077).toBe(0);
    expect(fs.readdirSync(dataDir)).toEqual(['admin-api-key']);
  });

  it('should replace a file left by an earlier deployment, with mode 0600 whatever the old one had', () => {
    const dataDir = tempDir();
    fs.writeFileSync(path.join(dataDir, 'admin-api-key'), 'an old key\n', { mode: 0o644 });
    const file = writeBootstrapKeyFile(dataDir, TOKEN);
    expect(fs.readFileSync(file, 'utf8')).toBe(`${TOKEN}\n`);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('should throw and leave no partial file behind when the key cannot be put in place', () => {
    const dataDir = tempDir();
    fs.mkdirSync(path.join(dataDir, 'admin-api-key')); // a folder where the file should go
    expect(() => writeBootstrapKeyFile(dataDir, TOKEN)).toThrow(/EISDIR|EEXIST|ENOTEMPTY|EPERM/);
    expect(fs.readdirSync(dataDir)).toEqual(['admin-api-key']);
  });
});

describe(printBootstrapKeyIfTerminal.name, () => {
  const sink = (isTTY: boolean | undefined) => {
    const written: string[] = [];
    return { isTTY, write: (s: string) => written.push(s), written };
  };

  it('should print the key and where it is kept when stdout is a terminal', () => {
    const out = sink(true);
    expect(printBootstrapKeyIfTerminal(out, TOKEN, '/data/admin-api-key')).toBe(true);
    expect(out.written.join('')).toContain(TOKEN);
    expect(out.written.join('')).toContain('/data/admin-api-key');
  });

  it.each([false, undefined])('should print nothing when stdout is not a terminal (isTTY %s)', (isTTY) => {
    const out = sink(isTTY);
    expect(printBootstrapKeyIfTerminal(out, TOKEN, '/data/admin-api-key')).toBe(false);
    expect(out.written).toEqual([]);
  });
});
