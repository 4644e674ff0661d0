import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RequireScope } from '../common/auth/auth.decorators.js';
import { ApiNotFound, ApiValidationErrors } from '../common/errors/api-error-responses.js';
import { ApiIdParam, IdParam } from '../common/validation/id.param.js';
import { ApiKeysService } from './api-keys.service.js';
import { ApiKeyCreateDto } from './dto/api-key-create.dto.js';
import { ApiKeyCreatedDto, ApiKeyResponseDto } from './dto/api-key-response.dto.js';

@ApiTags('api-keys')
@RequireScope('admin')
@Controller('api-keys')
export class ApiKeysController {
  constructor(private readonly apiKeys: ApiKeysService) {}

  @Post()
  @ApiOperation({ summary: 'Create a scoped API key; the token is in this response only' })
  @ApiCreatedResponse({ type: ApiKeyCreatedDto, description: 'Created; `key` is the token, shown this once.' })
  @ApiValidationErrors({ scopes: ['"root" is not a valid choice.'], expires_at: ['Ensure this date-time is in the future.'] })
  create(@Body() dto: ApiKeyCreateDto): Promise<ApiKeyCreatedDto> {
    return this.apiKeys.create(dto.name, dto.scopes, dto.expires_at ? new Date(dto.expires_at) : null);
  }

  @Get()
  @ApiOperation({ summary: 'List API keys that are not revoked (without their tokens)' })
  @ApiOkResponse({ type: ApiKeyResponseDto, isArray: true, description: 'The keys, without their tokens.' })
  list(): Promise<ApiKeyResponseDto[]> {
    return this.apiKeys.list();
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Revoke an API key' })
  @ApiIdParam()
  @ApiNoContentResponse({ description: 'Revoked.' })
  @ApiNotFound('API key')
  async revoke(@IdParam() id: number): Promise<void> {
    await this.apiKeys.revoke(id);
  }
}
