import { createHmac } from 'node:crypto';
import { isAwsRegion } from './aws-region.js';

// Fixed inputs of AWS's documented conversion; the date is a constant, not a real date.
const DATE = '11111111';
const SERVICE = 'ses';
const TERMINAL = 'aws4_request';
const MESSAGE = 'SendRawEmail';
const VERSION = 0x04;

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data, 'utf8').digest();

/**
 * The Amazon SES SMTP password for an IAM user's secret access key in `region` (the SigV4
 * scheme, version 4): a SigV4 signing key for `ses` in that region, HMAC'd over `SendRawEmail`,
 * prefixed with the version byte and base64-encoded. The password only works against that
 * region's SMTP endpoint; the SMTP user name is the access key ID.
 */
export function deriveSesSmtpPassword(secretAccessKey: string, region: string): string {
  if (!isAwsRegion(region)) throw new RangeError(`not an AWS region name: ${JSON.stringify(region)}`);
  let key = hmac(Buffer.from(`AWS4${secretAccessKey}`, 'utf8'), DATE);
  for (const part of [region, SERVICE, TERMINAL, MESSAGE]) key = hmac(key, part);
  return Buffer.concat([Buffer.from([VERSION]), key]).toString('base64');
}
