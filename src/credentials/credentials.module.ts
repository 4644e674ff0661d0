import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { CredentialsService, KEY_RING } from './credentials.service.js';
import { createKeyRing } from './key-ring.factory.js';

@Module({
  providers: [{ provide: KEY_RING, inject: [AppConfig], useFactory: createKeyRing }, CredentialsService],
  exports: [CredentialsService],
})
export class CredentialsModule {}
