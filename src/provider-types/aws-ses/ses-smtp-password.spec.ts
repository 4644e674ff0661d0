import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { deriveSesSmtpPassword } from './ses-smtp-password.js';

// AWS's documentation example secret key.
const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';

// AWS's conversion script ("Obtaining Amazon SES SMTP credentials by converting existing AWS
// credentials"), standard library only; the secret comes on stdin, the region as an argument.
const PYTHON = '/usr/bin/python3';
const AWS_SCRIPT = `
import base64, hashlib, hmac, sys
def sign(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()
signature = sign(("AWS4" + sys.stdin.read()).encode("utf-8"), "11111111")
for msg in (sys.argv[1], "ses", "aws4_request", "SendRawEmail"):
    signature = sign(signature, msg)
print(base64.b64encode(bytes([0x04]) + signature).decode("utf-8"))
`;

describe('deriveSesSmtpPassword', () => {
  it('should give the password the AWS SDK for PHP tests against (example key, us-east-2)', () => {
    // aws/aws-sdk-php tests/Ses/SesClientTest.php, testCanGenerateSmtpPasswordV4FromCredentials.
    expect(deriveSesSmtpPassword(EXAMPLE_SECRET, 'us-east-2')).toBe('BMPPgbAHoFVbze1Ud0oA5uNdXRwUXUZ+qOwphGJbl/cS');
  });

  it.each([
    ['us-east-1', 'BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9'],
    ['eu-central-1', 'BF0/eIJm0ruTHsSjOkRuOGzGF+zeSyE3aiRzrzUQ8LwG'],
    ['us-gov-west-1', 'BHW/eHvx1MM9YwW4wrJG6MGVQmLDCAM99G9YiSdGEIAw'],
  ])("should give the password AWS's Python script gives for the example key in %s", (region, password) => {
    expect(deriveSesSmtpPassword(EXAMPLE_SECRET, region)).toBe(password);
  });

  it.each([
    ['je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY', 'ap-southeast-2'],
    ['abcdefghijklmnopqrstuvwxyz0123456789+/AB', 'il-central-1'],
    ['short', 'cn-northwest-1'],
  ])("should agree with AWS's Python script when run on it (%s, %s)", (secret, region) => {
    const python = execFileSync(PYTHON, ['-I', '-c', AWS_SCRIPT, region], { input: secret }).toString().trim();
    expect(deriveSesSmtpPassword(secret, region)).toBe(python);
  });

  it('should start with the version byte 0x04 and carry a 32-byte signature', () => {
    const raw = Buffer.from(deriveSesSmtpPassword(EXAMPLE_SECRET, 'sa-east-1'), 'base64');
    expect(raw).toHaveLength(33);
    expect(raw[0]).toBe(0x04);
  });

  it('should refuse a region that is not an AWS region name, without quoting the secret', () => {
    expect(() => deriveSesSmtpPassword(EXAMPLE_SECRET, 'us-east-1.evil.example')).toThrow(RangeError);
    expect(() => deriveSesSmtpPassword(EXAMPLE_SECRET, '')).toThrow('not an AWS region name');
    let message = '';
    try {
      deriveSesSmtpPassword(EXAMPLE_SECRET, 'Frankfurt');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('not an AWS region name: "Frankfurt"');
  });
});
