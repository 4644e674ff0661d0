import { DataSource } from 'typeorm';
import { dataSourceOptions } from './src/database/data-source-options.js';

/**
 * DataSource for the TypeORM CLI (`npm run migration:run`). It needs a PostgreSQL server:
 * the embedded database is migrated by the service itself at start-up.
 */
const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL must be set for the TypeORM CLI');

export default new DataSource(dataSourceOptions({ url }));
