import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { ApiNotFound, ApiValidationErrors } from '../common/errors/api-error-responses.js';
import { pageLinks } from '../common/pagination.js';
import { SuppressionCreateDto } from './dto/suppression-create.dto.js';
import { SuppressionListQuery } from './dto/suppression-list.query.js';
import { SuppressionPageDto, SuppressionResponseDto } from './dto/suppression-response.dto.js';
import { SuppressionsService } from './suppressions.service.js';

@ApiTags('suppressions')
@Controller('suppressions')
export class SuppressionsController {
  constructor(private readonly suppressions: SuppressionsService) {}

  @Get()
  @RequireScope('providers:read')
  @ApiOperation({ summary: 'List suppressed addresses, newest first, paginated' })
  @ApiOkResponse({ type: SuppressionPageDto, description: 'One page of the suppression list, newest first.' })
  @ApiValidationErrors({ reason: ['"soft_bounce" is not a valid choice.'] })
  list(@Query() query: SuppressionListQuery, @Req() req: Request): Promise<SuppressionPageDto> {
    return this.suppressions.list(query, (page, size, count) => pageLinks(req, page, size, count));
  }

  @Post()
  @RequireScope('providers:write')
  @ApiOperation({
    summary: 'Suppress an address',
    description: 'No message is sent to it from now on: /send/ and /send/batch/ remove it from every message (test sends excepted).',
  })
  @ApiCreatedResponse({ type: SuppressionResponseDto, description: 'Added.' })
  @ApiValidationErrors({ email: ['This address is already suppressed.'], reason: ['"spam" is not a valid choice.'] })
  add(@Body() dto: SuppressionCreateDto): Promise<SuppressionResponseDto> {
    return this.suppressions.add(dto);
  }

  @Delete(':email')
  @HttpCode(204)
  @RequireScope('providers:write')
  @ApiOperation({ summary: 'Remove an address from the suppression list' })
  // No example: Swagger UI would fill it in, and Execute on the untouched form would delete it.
  @ApiParam({ name: 'email', schema: { type: 'string' }, description: 'The address, URL-encoded; compared case-insensitively.' })
  @ApiNoContentResponse({ description: 'Removed: messages reach the address again.' })
  @ApiNotFound('suppressed address')
  async remove(@Param('email') email: string): Promise<void> {
    await this.suppressions.remove(email);
  }
}
