import { describe, expect, it } from '@jest/globals';
import { isAwsRegion } from './aws-region.js';

describe('isAwsRegion', () => {
  it.each([
    'us-east-1',
    'us-east-2',
    'us-west-2',
    'eu-central-1',
    'eu-central-2',
    'eu-north-1',
    'ap-southeast-2',
    'ap-southeast-7',
    'ap-northeast-3',
    'af-south-1',
    'me-central-1',
    'sa-east-1',
    'il-central-1',
    'ca-west-1',
    'mx-central-1',
    'cn-north-1',
    'cn-northwest-1',
    'us-gov-west-1',
    'us-gov-east-1',
    'us-iso-east-1',
    'us-isob-east-1',
    'us-isof-south-1',
    'eu-isoe-west-1',
    'eusc-de-east-1',
  ])('should accept the real region %s', (region) => {
    expect(isAwsRegion(region)).toBe(true);
  });

  it.each([
    '',
    'us-east',
    'useast1',
    'us_east_1',
    'US-EAST-1',
    'Us-east-1',
    ' us-east-1',
    'us-east-1 ',
    'us-east-1\n',
    'us-east-1.evil.example',
    'us-east-1/',
    'email-smtp.us-east-1.amazonaws.com',
    'usa-east-1',
    'u-east-1',
    'us-east-100',
    'us--1',
    'aws-global',
    'Frankfurt',
  ])('should refuse %j', (value) => {
    expect(isAwsRegion(value)).toBe(false);
  });
});
