import { SESv2Client } from '@aws-sdk/client-sesv2';
import type { SendingProvider } from '../../providers/sending-provider.js';

/**
 * An SESv2 API client with the provider's own credentials and region. The endpoint is AWS's for
 * the region unless the operator sets the SDK's `AWS_ENDPOINT_URL_SESV2` (or `AWS_ENDPOINT_URL`),
 * for a VPC endpoint or a local emulator; there is deliberately no per-provider endpoint. One
 * attempt per call: retries and failover are the sending module's.
 */
export function createSesClient(provider: SendingProvider, secretAccessKey: string | null, timeoutMs: number): SESv2Client {
  return new SESv2Client({
    region: provider.awsRegion ?? undefined,
    credentials: { accessKeyId: provider.awsAccessKeyId ?? '', secretAccessKey: secretAccessKey ?? '' },
    maxAttempts: 1,
    requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs },
  });
}
