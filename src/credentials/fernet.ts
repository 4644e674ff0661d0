import { createCipheriv, createDecipheriv, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

// Fernet (https://github.com/fernet/spec), interoperable with Python's cryptography.fernet.

export type FernetErrorCode = 'FERNET_INVALID' | 'FERNET_BAD_KEY';

/** Deliberately generic: never carries the token, key or plaintext, nor the underlying cause. */
export class FernetError extends Error {
  override readonly name = 'FernetError';

  constructor(readonly code: FernetErrorCode = 'FERNET_INVALID') {
    super(code === 'FERNET_BAD_KEY' ? 'invalid Fernet key' : 'invalid Fernet token');
  }
}

export interface FernetEncryptOptions {
  /** Unix seconds to record as the token timestamp (default: now). */
  now?: number | undefined;
  /** 16 bytes; only for test vectors, a random IV is used by default. */
  iv?: Buffer | undefined;
}

export interface FernetDecryptOptions {
  /** Maximum token age; when omitted neither age nor clock skew is checked (as in Python). */
  ttlSeconds?: number | undefined;
  /** Unix seconds to check the TTL against (default: now). */
  now?: number | undefined;
}

interface Keys {
  signing: Buffer;
  encryption: Buffer;
}

const VERSION = 0x80;
const MAX_CLOCK_SKEW = 60n;
const HEADER = 25; // version (1) ‖ timestamp (8) ‖ IV (16)
const BLOCK = 16;
const MAC = 32;

const encode = (bytes: Buffer): string => bytes.toString('base64').replaceAll('+', '-').replaceAll('/', '_');

// Node's decoder silently accepts missing padding, '+', '/', whitespace and junk; Python (and thus
// every real token) uses padded base64url, so accept only input that re-encodes to itself.
function decodeCanonical(text: unknown): Buffer | undefined {
  if (typeof text !== 'string') return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return encode(bytes) === text ? bytes : undefined;
}

function parseKey(key: string): Keys {
  const raw = typeof key === 'string' && key.length === 44 ? decodeCanonical(key) : undefined;
  if (raw?.length !== 32) throw new FernetError('FERNET_BAD_KEY');
  return { signing: raw.subarray(0, 16), encryption: raw.subarray(16) };
}

const seconds = (now: number | undefined): bigint => BigInt(Math.floor(now ?? Date.now() / 1000));
const hmac = (key: Buffer, data: Buffer): Buffer => createHmac('sha256', key).update(data).digest();

function seal(keys: Keys, plaintext: string | Buffer, timestamp: bigint, iv: Buffer): string {
  const cipher = createCipheriv('aes-128-cbc', keys.encryption, iv);
  const header = Buffer.alloc(9);
  header[0] = VERSION;
  header.writeBigUInt64BE(timestamp, 1);
  const body = Buffer.concat([header, iv, cipher.update(plaintext), cipher.final()]);
  return encode(Buffer.concat([body, hmac(keys.signing, body)]));
}

function parseToken(token: string): { data: Buffer; timestamp: bigint } {
  const data = decodeCanonical(token);
  const cipherLength = data ? data.length - HEADER - MAC : -1;
  if (!data || data[0] !== VERSION || cipherLength < BLOCK || cipherLength % BLOCK !== 0) throw new FernetError();
  return { data, timestamp: data.readBigUInt64BE(1) };
}

// parseToken guarantees the stored MAC is exactly 32 bytes, so timingSafeEqual cannot throw.
const verify = (keys: Keys, data: Buffer): boolean => timingSafeEqual(hmac(keys.signing, data.subarray(0, -MAC)), data.subarray(-MAC));

function openAny(keyList: readonly Keys[], data: Buffer): Buffer {
  const keys = keyList.find((candidate) => verify(candidate, data));
  if (!keys) throw new FernetError();
  try {
    const decipher = createDecipheriv('aes-128-cbc', keys.encryption, data.subarray(9, HEADER));
    return Buffer.concat([decipher.update(data.subarray(HEADER, -MAC)), decipher.final()]);
  } catch {
    throw new FernetError(); // bad PKCS7 padding
  }
}

function decryptWith(keyList: readonly Keys[], token: string, { ttlSeconds, now }: FernetDecryptOptions): Buffer {
  const { data, timestamp } = parseToken(token);
  if (ttlSeconds !== undefined) {
    const current = seconds(now);
    if (timestamp + BigInt(ttlSeconds) < current || timestamp > current + MAX_CLOCK_SKEW) throw new FernetError();
  }
  return openAny(keyList, data);
}

const encryptWith = (keys: Keys, plaintext: string | Buffer, { now, iv }: FernetEncryptOptions): string =>
  seal(keys, plaintext, seconds(now), iv ?? randomBytes(16));

export class Fernet {
  readonly #keys: readonly Keys[]; // private field: keeps key material out of util.inspect / JSON

  constructor(key: string) {
    this.#keys = [parseKey(key)];
  }

  static generateKey(): string {
    return encode(randomBytes(32));
  }

  encrypt(plaintext: string | Buffer, opts: FernetEncryptOptions = {}): string {
    return encryptWith(this.#keys[0]!, plaintext, opts);
  }

  decrypt(token: string, opts: FernetDecryptOptions = {}): Buffer {
    return decryptWith(this.#keys, token, opts);
  }

  decryptToString(token: string, opts: FernetDecryptOptions = {}): string {
    return this.decrypt(token, opts).toString('utf8');
  }
}

/** MultiFernet: encrypts with the first (primary) key, decrypts with any. */
export class FernetKeyRing {
  readonly #keys: readonly Keys[];

  constructor(keys: readonly string[]) {
    if (keys.length === 0) throw new FernetError('FERNET_BAD_KEY');
    this.#keys = keys.map(parseKey);
  }

  /** Comma-separated keys, primary first; an empty entry is an error. */
  static parse(csv: string): FernetKeyRing {
    return new FernetKeyRing(csv.split(',').map((key) => key.trim()));
  }

  encrypt(plaintext: string | Buffer, opts: FernetEncryptOptions = {}): string {
    return encryptWith(this.#keys[0]!, plaintext, opts);
  }

  decrypt(token: string, opts: FernetDecryptOptions = {}): Buffer {
    return decryptWith(this.#keys, token, opts);
  }

  decryptToString(token: string, opts: FernetDecryptOptions = {}): string {
    return this.decrypt(token, opts).toString('utf8');
  }

  /** Re-encrypts under the primary key, keeping the original timestamp (as Python's MultiFernet.rotate). */
  rotate(token: string): string {
    const { data, timestamp } = parseToken(token);
    return seal(this.#keys[0]!, openAny(this.#keys, data), timestamp, randomBytes(16));
  }

  isPrimary(token: string): boolean {
    try {
      return verify(this.#keys[0]!, parseToken(token).data);
    } catch {
      return false;
    }
  }
}
