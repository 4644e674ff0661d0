import { InitialSchema1764100000000 } from './1764100000000-initial-schema.js';
import { RateLimits1764200000000 } from './1764200000000-rate-limits.js';
import { Sending1764300000000 } from './1764300000000-sending.js';
import { Health1764400000000 } from './1764400000000-health.js';
import { DeliverySafety1764500000000 } from './1764500000000-delivery-safety.js';
import { SesAccount1764600000000 } from './1764600000000-ses-account.js';
import { LongerErrorCodes1764700000000 } from './1764700000000-longer-error-codes.js';
import { ApiKeyExpiry1764800000000 } from './1764800000000-api-key-expiry.js';
import { BatchedDelivery1764900000000 } from './1764900000000-batched-delivery.js';
import { MessageRetention1764910000000 } from './1764910000000-message-retention.js';
import { DeliveryEvents1764920000000 } from './1764920000000-delivery-events.js';
import { SesTopicArn1764930000020 } from './1764930000020-ses-topic-arn.js';

/** Applied in this order. A landed migration is never edited: add a new file instead. */
export const migrations = [
  InitialSchema1764100000000,
  RateLimits1764200000000,
  Sending1764300000000,
  Health1764400000000,
  DeliverySafety1764500000000,
  SesAccount1764600000000,
  LongerErrorCodes1764700000000,
  ApiKeyExpiry1764800000000,
  BatchedDelivery1764900000000,
  MessageRetention1764910000000,
  DeliveryEvents1764920000000,
  SesTopicArn1764930000020,
];
