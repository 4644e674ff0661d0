import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { SCOPES, type Scope } from '../../common/auth/scopes.js';

export class ApiKeyResponseDto {
  @ApiProperty({ example: 3 })
  id: number;

  @ApiProperty({ example: 'billing-service' })
  name: string;

  @ApiProperty({ enum: SCOPES, isArray: true, example: ['send'] })
  scopes: Scope[];

  @ApiProperty({ description: 'The public start of the token, to tell keys apart.', example: 'epk_4f9c2a1b' })
  prefix: string;

  @ApiProperty({ example: '2025-01-07T10:30:00Z' })
  created_at: string;

  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'When the key last authenticated a request, to the minute (recorded at most once a minute); null: never used.',
    example: '2025-01-07T11:00:00Z',
  })
  last_used_at: string | null;

  @ApiProperty({
    nullable: true,
    type: String,
    format: 'date-time',
    description: 'When the key stops working (401 "Token expired."); null: never.',
    example: null,
  })
  expires_at: string | null;
}

export class ApiKeyCreatedDto extends ApiKeyResponseDto {
  @ApiPropertyOptional({
    description: 'The bearer token. Shown only in this response: store it now, it cannot be read again.',
    example: 'epk_4f9c2a1b_Qm9yZWQ_yet_curious_these_are_random_bytes',
  })
  key: string;
}
