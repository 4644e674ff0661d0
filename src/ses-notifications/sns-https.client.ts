import fs from 'node:fs';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';

/** Why a GET to SNS did not answer 200 with a body in bounds. */
export class SnsFetchError extends Error {
  /** `refused`: SNS answered, but not 200 (or too much); `unreachable`: no answer in time. */
  constructor(
    readonly kind: 'refused' | 'unreachable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SnsFetchError';
  }
}

const TIMEOUT_MS = 5_000;

/**
 * GETs from Amazon SNS (signing certificates, subscription confirmations): https with the
 * certificate verified against the system's CAs (plus SNS_CERT_CA_FILE's, a test CA), no
 * redirect followed, a timeout, and a cap on what is read.
 */
@Injectable()
export class SnsHttpsClient {
  private readonly ca: string[] | undefined;

  constructor(config: AppConfig) {
    const extra = config.sesNotifications.certCaFile;
    this.ca = extra ? [...rootCertificates, fs.readFileSync(extra, 'utf8')] : undefined;
  }

  get(url: URL, maxBytes: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = https.get(url, { ca: this.ca, timeout: TIMEOUT_MS, headers: { accept: '*/*' } }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(
            new SnsFetchError(res.statusCode !== undefined && res.statusCode >= 500 ? 'unreachable' : 'refused', `HTTP ${res.statusCode}`),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) {
            req.destroy();
            reject(new SnsFetchError('refused', `more than ${maxBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', (err) => reject(new SnsFetchError('unreachable', err.message, { cause: err })));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
      req.on('error', (err) => reject(new SnsFetchError('unreachable', err.message, { cause: err })));
    });
  }
}
