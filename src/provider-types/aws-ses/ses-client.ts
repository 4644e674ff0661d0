import { SESv2Client } from '@aws-sdk/client-sesv2';
import type { SendingProvider } from '../../providers/sending-provider.js';

/** How long an SES call may take; a plain number bounds the connect and the whole request alike. */
export interface SesClientTimeouts {
  connectionTimeoutMs: number;
  /** The whole request, answer included; unset for no overall bound. */
  requestTimeoutMs?: number;
  /** Inactivity on the socket, like SMTP_SOCKET_TIMEOUT_MS; unset for none. */
  socketTimeoutMs?: number;
}

/**
 * An SESv2 API client with the provider's own credentials and region. The endpoint is AWS's for
 * the region unless the operator sets the SDK's `AWS_ENDPOINT_URL_SESV2` (or `AWS_ENDPOINT_URL`),
 * for a VPC endpoint or a local emulator; there is deliberately no per-provider endpoint. One
 * attempt per call: retries and failover are the sending module's.
 */
export function createSesClient(
  provider: SendingProvider,
  secretAccessKey: string | null,
  timeouts: number | SesClientTimeouts,
): SESv2Client {
  const t = typeof timeouts === 'number' ? { connectionTimeoutMs: timeouts, requestTimeoutMs: timeouts } : timeouts;
  return new SESv2Client({
    region: provider.awsRegion ?? undefined,
    credentials: { accessKeyId: provider.awsAccessKeyId ?? '', secretAccessKey: secretAccessKey ?? '' },
    maxAttempts: 1,
    requestHandler: {
      connectionTimeout: t.connectionTimeoutMs,
      requestTimeout: t.requestTimeoutMs,
      // Without it the SDK only logs a warning when requestTimeout passes, and keeps waiting.
      throwOnRequestTimeout: true,
      socketTimeout: t.socketTimeoutMs,
    },
  });
}
