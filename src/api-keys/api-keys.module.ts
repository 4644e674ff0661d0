import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PRINCIPAL_TOKEN } from '../common/auth/principal.js';
import { ApiKeyEntity } from './api-key.entity.js';
import { ApiKeysController } from './api-keys.controller.js';
import { ApiKeysRepository } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';

@Global()
@Module({
  imports: [TypeOrmModule.forFeature([ApiKeyEntity])],
  controllers: [ApiKeysController],
  providers: [ApiKeysRepository, ApiKeysService, { provide: PRINCIPAL_TOKEN, useExisting: ApiKeysService }],
  exports: [PRINCIPAL_TOKEN, ApiKeysRepository, ApiKeysService],
})
export class ApiKeysModule {}
