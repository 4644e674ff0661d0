import { ApiKeyEntity } from '../api-keys/api-key.entity.js';
import { ProviderEntity } from '../providers/provider.entity.js';

/** Every entity of the schema, listed once for the app and the migration CLI alike. */
export const entities = [ProviderEntity, ApiKeyEntity];
