import { Controller, Get, HttpCode, Post, Query, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { pageLinks, pageOf } from '../common/pagination.js';
import { ApiNotFound, ApiValidationErrors } from '../common/errors/api-error-responses.js';
import { ApiIdParam, IdParam } from '../common/validation/id.param.js';
import { sesAccountDto } from '../providers/dto/ses-account.dto.js';
import { HealthCheckResultDto, HealthHistoryPageDto, HealthHistoryQuery } from './dto/health.dto.js';
import { ProviderHealthService } from './provider-health.service.js';

@ApiTags('providers')
@Controller('providers')
export class ProviderHealthController {
  constructor(private readonly health: ProviderHealthService) {}

  @Post(':id/health_check')
  @HttpCode(200)
  @RequireScope('providers:write')
  @ApiOperation({
    summary: 'Check the provider now; no mail is sent',
    description:
      'SMTP: connect, greeting, EHLO, TLS, AUTH. Amazon SES: the GetAccount API (sending enabled, not shut down; quota recorded).',
  })
  @ApiIdParam()
  @ApiOkResponse({ type: HealthCheckResultDto, description: 'The check ran; `is_healthy` says how it went.' })
  @ApiNotFound('provider')
  async check(@IdParam() id: number): Promise<HealthCheckResultDto> {
    const { provider, outcome, at } = await this.health.checkNow(id);
    return {
      provider_id: provider.id,
      provider_name: provider.name,
      is_healthy: outcome.healthy,
      health_status: outcome.healthy ? 'healthy' : 'unhealthy',
      last_health_check: at.toISOString(),
      error: outcome.healthy ? null : [outcome.errorCode, outcome.smtpCode, outcome.reply].filter((x) => x !== null).join(' '),
    };
  }

  @Get(':id/health_history')
  @RequireScope('providers:read')
  @ApiOperation({ summary: 'Recent checks of the provider, newest first, paginated' })
  @ApiIdParam()
  @ApiOkResponse({ type: HealthHistoryPageDto, description: 'One page of checks, newest first.' })
  @ApiValidationErrors({ page_size: ['Ensure this value is less than or equal to 200.'] })
  @ApiNotFound('provider')
  async history(@IdParam() id: number, @Query() query: HealthHistoryQuery, @Req() req: Request): Promise<HealthHistoryPageDto> {
    const { page, size } = pageOf(query);
    const { count, rows } = await this.health.history(id, page, size);
    return {
      count,
      ...pageLinks(req, page, size, count),
      results: rows.map((r) => ({
        checked_at: new Date(r.checked_at).toISOString(),
        trigger: r.trigger,
        healthy: r.healthy,
        latency: r.latency_ms / 1000,
        error_class: r.error_code,
        smtp_code: r.smtp_code,
        smtp_reply: r.smtp_reply,
        ses_account: sesAccountDto(r.details?.sesAccount, new Date(r.checked_at)),
      })),
    };
  }
}
