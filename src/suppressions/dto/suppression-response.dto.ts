import { ApiProperty } from '@nestjs/swagger';
import { SUPPRESSION_REASONS, type SuppressionReason } from '../suppression.types.js';

export class SuppressionResponseDto {
  @ApiProperty({ example: 7 }) id: number;
  @ApiProperty({ description: 'As it was added; compared case-insensitively.', example: 'bounced@example.com' }) email: string;
  @ApiProperty({ enum: SUPPRESSION_REASONS, example: 'hard_bounce' }) reason: SuppressionReason;
  @ApiProperty({ example: '' }) note: string;
  @ApiProperty({
    description: 'The id of the message whose bounce or complaint added the entry; null for one added by hand.',
    nullable: true,
    type: 'integer',
    example: 42,
  })
  message_id: number | null;
  @ApiProperty({ format: 'date-time', example: '2025-01-07T10:30:00Z' }) created_at: string;
}

export class SuppressionPageDto {
  @ApiProperty({ example: 1 }) count: number;
  @ApiProperty({ nullable: true, type: String, example: null }) next: string | null;
  @ApiProperty({ nullable: true, type: String, example: null }) previous: string | null;
  @ApiProperty({ type: [SuppressionResponseDto] }) results: SuppressionResponseDto[];
}
