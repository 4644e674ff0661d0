import { Module } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { OutboundPolicy, parseOutboundAllow } from './outbound-policy.js';

/** The outbound host policy (OUTBOUND_ALLOW), for every module that connects where an API user said. */
@Module({
  providers: [
    {
      provide: OutboundPolicy,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => new OutboundPolicy(parseOutboundAllow(config.outboundAllow)),
    },
  ],
  exports: [OutboundPolicy],
})
export class OutboundModule {}
