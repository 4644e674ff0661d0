import { Body, Controller, Delete, Get, HttpCode, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { ApiNotFound, ApiValidationErrors } from '../common/errors/api-error-responses.js';
import { ApiIdParam, IdParam } from '../common/validation/id.param.js';
import { PROVIDER_CREATE_EXAMPLES, ProviderCreateDto } from './dto/provider-create.dto.js';
import { PROVIDER_CREDENTIALS_EXAMPLES, ProviderCredentialsDto, ProviderCredentialsResponseDto } from './dto/provider-credentials.dto.js';
import { ProviderHealthStatusDto } from './dto/provider-health-status.dto.js';
import { ProviderListQuery } from './dto/provider-list.query.js';
import { ProviderStatisticsDto, ProviderStatisticsQuery } from './dto/provider-statistics.dto.js';
import { ProviderActionResponseDto, ProviderResponseDto } from './dto/provider-response.dto.js';
import { PROVIDER_UPDATE_EXAMPLES, ProviderUpdateDto } from './dto/provider-update.dto.js';
import { ProvidersService } from './providers.service.js';

const VALIDATION_EXAMPLE = {
  smtp_port: ['Ensure this value is less than or equal to 65535.'],
  non_field_errors: ['smtp_use_tls (STARTTLS) and smtp_use_ssl (implicit TLS) cannot both be true.'],
};

@ApiTags('providers')
@Controller('providers')
export class ProvidersController {
  constructor(private readonly providers: ProvidersService) {}

  @Post()
  @RequireScope('providers:write')
  @ApiOperation({ summary: 'Create a provider' })
  @ApiBody({ type: ProviderCreateDto, examples: PROVIDER_CREATE_EXAMPLES })
  @ApiCreatedResponse({ type: ProviderResponseDto, description: 'Created; the provider as every route returns it (no secret).' })
  @ApiValidationErrors(VALIDATION_EXAMPLE)
  create(@Body() dto: ProviderCreateDto): Promise<ProviderResponseDto> {
    return this.providers.create(dto);
  }

  @Get()
  @RequireScope('providers:read')
  @ApiOperation({ summary: 'List providers (a plain array), optionally filtered' })
  @ApiOkResponse({ type: ProviderResponseDto, isArray: true, description: 'The providers that match, in a plain array.' })
  @ApiValidationErrors({ priority: ['"7" is not a valid choice.'] })
  list(@Query() query: ProviderListQuery): Promise<ProviderResponseDto[]> {
    return this.providers.list(query);
  }

  // Collection routes come before `:id` so their names are never read as an id.
  @Get('statistics')
  @RequireScope('providers:read')
  @ApiOperation({ summary: 'Per-provider usage, success rate, response time and failovers' })
  @ApiOkResponse({ type: ProviderStatisticsDto, isArray: true, description: 'One row per provider.' })
  @ApiValidationErrors({ days: ['Ensure this value is greater than or equal to 1.'] })
  statistics(@Query() query: ProviderStatisticsQuery): Promise<ProviderStatisticsDto[]> {
    return this.providers.statistics(query.days ?? 30);
  }

  @Get('health_status')
  @RequireScope('providers:read')
  @ApiOperation({ summary: 'Health of every provider, and whether each could take a message now' })
  @ApiOkResponse({ type: ProviderHealthStatusDto, isArray: true, description: 'One row per provider.' })
  healthStatus(): Promise<ProviderHealthStatusDto[]> {
    return this.providers.healthStatus();
  }

  @Get(':id')
  @RequireScope('providers:read')
  @ApiOperation({ summary: 'Get one provider' })
  @ApiIdParam()
  @ApiOkResponse({ type: ProviderResponseDto, description: 'The provider.' })
  @ApiNotFound('provider')
  get(@IdParam() id: number): Promise<ProviderResponseDto> {
    return this.providers.get(id);
  }

  @Put(':id')
  @RequireScope('providers:write')
  @ApiOperation({ summary: 'Update a provider (fields left out keep their values)' })
  @ApiIdParam()
  @ApiBody({ type: ProviderUpdateDto, examples: PROVIDER_UPDATE_EXAMPLES })
  @ApiOkResponse({ type: ProviderResponseDto, description: 'Updated; the provider as it is now.' })
  @ApiValidationErrors(VALIDATION_EXAMPLE)
  @ApiNotFound('provider')
  replace(@IdParam() id: number, @Body() dto: ProviderUpdateDto): Promise<ProviderResponseDto> {
    return this.providers.update(id, dto);
  }

  @Patch(':id')
  @RequireScope('providers:write')
  @ApiOperation({ summary: 'Partially update a provider' })
  @ApiIdParam()
  @ApiBody({ type: ProviderUpdateDto, examples: PROVIDER_UPDATE_EXAMPLES })
  @ApiOkResponse({ type: ProviderResponseDto, description: 'Updated; the provider as it is now.' })
  @ApiValidationErrors(VALIDATION_EXAMPLE)
  @ApiNotFound('provider')
  update(@IdParam() id: number, @Body() dto: ProviderUpdateDto): Promise<ProviderResponseDto> {
    return this.providers.update(id, dto);
  }

  @Delete(':id')
  @HttpCode(204)
  @RequireScope('providers:write')
  @ApiOperation({ summary: 'Soft-delete a provider: it disappears from every read and from sending; its history stays' })
  @ApiIdParam()
  @ApiNoContentResponse({ description: 'Deleted.' })
  @ApiNotFound('provider')
  async remove(@IdParam() id: number): Promise<void> {
    await this.providers.remove(id);
  }

  @Post(':id/update_credentials')
  @HttpCode(200)
  @RequireScope('providers:write')
  @ApiOperation({
    summary: 'Change host, port, username, password and TLS flags in one step',
    description: 'Validated like create. The response echoes the non-secret fields. Health returns to `unknown` until the next check.',
  })
  @ApiIdParam()
  @ApiBody({ type: ProviderCredentialsDto, examples: PROVIDER_CREDENTIALS_EXAMPLES })
  @ApiOkResponse({ type: ProviderCredentialsResponseDto, description: 'Changed; the non-secret connection settings as they are now.' })
  @ApiValidationErrors(VALIDATION_EXAMPLE)
  @ApiNotFound('provider')
  updateCredentials(@IdParam() id: number, @Body() dto: ProviderCredentialsDto): Promise<ProviderCredentialsResponseDto> {
    return this.providers.updateCredentials(id, dto);
  }

  @Post(':id/activate')
  @HttpCode(200)
  @RequireScope('providers:write')
  @ApiOperation({ summary: 'Activate a provider' })
  @ApiIdParam()
  @ApiOkResponse({ type: ProviderActionResponseDto, description: 'Activated.' })
  @ApiNotFound('provider')
  async activate(@IdParam() id: number): Promise<ProviderActionResponseDto> {
    await this.providers.setActive(id, true);
    return { message: 'Provider activated successfully' };
  }

  @Post(':id/deactivate')
  @HttpCode(200)
  @RequireScope('providers:write')
  @ApiOperation({ summary: 'Deactivate a provider: it is no longer used to send' })
  @ApiIdParam()
  @ApiOkResponse({
    type: ProviderActionResponseDto,
    description: 'Deactivated.',
    example: { message: 'Provider deactivated successfully' },
  })
  @ApiNotFound('provider')
  async deactivate(@IdParam() id: number): Promise<ProviderActionResponseDto> {
    await this.providers.setActive(id, false);
    return { message: 'Provider deactivated successfully' };
  }
}
