import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * `providers.ses_topic_arn` (issue #14): the SNS topic whose notifications an SES provider takes
 * at `/providers/{id}/ses_notifications/`. SNS signs for every AWS account, so a valid signature
 * alone says nothing about whose topic it is: the first topic to reach the provider is kept here,
 * and messages from any other are refused until an operator changes or clears it.
 */
export class SesTopicArn1764930000020 implements MigrationInterface {
  name = 'SesTopicArn1764930000020';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE providers ADD COLUMN ses_topic_arn varchar(320)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE providers DROP COLUMN ses_topic_arn`);
  }
}
