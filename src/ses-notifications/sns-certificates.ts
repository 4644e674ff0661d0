import { X509Certificate } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { SnsFetchError, SnsHttpsClient } from './sns-https.client.js';

const MAX_PEM_BYTES = 16 * 1024;
const TTL_MS = 60 * 60 * 1000;
/** SNS signs with a few certificates per region at a time; a bound all the same, as the URL comes from the request. */
const MAX_ENTRIES = 64;

/**
 * SNS signing certificates by URL (already checked to be SNS's), fetched once and kept an hour.
 * A fetch that fails is not kept, so the next message tries again.
 */
@Injectable()
export class SnsCertificates {
  private readonly cache = new Map<string, { certificate: Promise<X509Certificate>; expiresAt: number }>();

  constructor(private readonly http: SnsHttpsClient) {}

  get(url: URL): Promise<X509Certificate> {
    const key = url.href;
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.expiresAt > now) return cached.certificate;
    this.cache.delete(key);
    if (this.cache.size >= MAX_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    const certificate = this.fetch(url);
    this.cache.set(key, { certificate, expiresAt: now + TTL_MS });
    certificate.catch(() => {
      if (this.cache.get(key)?.certificate === certificate) this.cache.delete(key);
    });
    return certificate;
  }

  private async fetch(url: URL): Promise<X509Certificate> {
    const pem = await this.http.get(url, MAX_PEM_BYTES);
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(pem);
    } catch (err) {
      throw new SnsFetchError('refused', 'not a PEM certificate', { cause: err });
    }
    const now = Date.now();
    if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) < now)
      throw new SnsFetchError('refused', 'the certificate is not valid now');
    return certificate;
  }
}
