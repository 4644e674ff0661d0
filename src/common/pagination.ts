import type { Request } from 'express';

/** DRF's PageNumberPagination links: absolute URLs of the neighbouring pages, or null. */
export function pageLinks(req: Request, page: number, size: number, count: number): { next: string | null; previous: string | null } {
  const at = (n: number) => {
    const url = new URL(req.originalUrl, `${req.protocol}://${req.get('host')}`);
    url.searchParams.set('page', String(n));
    return url.toString();
  };
  return { next: page * size < count ? at(page + 1) : null, previous: page > 1 ? at(page - 1) : null };
}
