/** Amazon SNS's own hosts (`sns.<region>.amazonaws.com`, and `.com.cn` in China): the only ones a certificate or a confirmation comes from. */
export const SNS_HOST_PATTERN = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

/**
 * The signing certificate's URL when it is one SNS serves certificates from: https, SNS's host
 * (`pattern` tests `host`, the port included, so the default refuses any explicit port), no
 * credentials, query or fragment, a path ending in `.pem`. Null otherwise.
 */
export function snsCertificateUrl(raw: unknown, pattern: RegExp = SNS_HOST_PATTERN): URL | null {
  const url = snsUrl(raw, pattern);
  return url && url.pathname.endsWith('.pem') && !url.search ? url : null;
}

/** A SubscribeURL the service may GET to confirm a subscription: https on SNS's host, as for the certificate. */
export function snsSubscribeUrl(raw: unknown, pattern: RegExp = SNS_HOST_PATTERN): URL | null {
  return snsUrl(raw, pattern);
}

function snsUrl(raw: unknown, pattern: RegExp): URL | null {
  if (typeof raw !== 'string') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:' || url.username || url.password || url.hash) return null;
  return pattern.test(url.host) ? url : null;
}
