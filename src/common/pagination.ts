import type { Request } from 'express';
import { IntegerField } from './validation/drf-fields.js';

/** DRF's PageNumberPagination links: absolute URLs of the neighbouring pages, or null. */
export function pageLinks(req: Request, page: number, size: number, count: number): { next: string | null; previous: string | null } {
  const at = (n: number) => {
    const url = new URL(req.originalUrl, `${req.protocol}://${req.get('host')}`);
    url.searchParams.set('page', String(n));
    return url.toString();
  };
  return { next: page * size < count ? at(page + 1) : null, previous: page > 1 ? at(page - 1) : null };
}

/** DRF's page-number pagination parameters; list queries extend it with their filters. */
export class PageQuery {
  @IntegerField({ min: 1, api: { description: 'Default 1.' } })
  page?: number;

  @IntegerField({ min: 1, max: 200, api: { description: 'Default 50.' } })
  page_size?: number;
}

/** The page asked for, with the defaults: page 1 of 50. */
export function pageOf(query: PageQuery): { page: number; size: number; offset: number } {
  const page = query.page ?? 1;
  const size = query.page_size ?? 50;
  return { page, size, offset: (page - 1) * size };
}
