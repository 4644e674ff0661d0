/**
 * The shape of an AWS region name, after the partitions' `regionRegex` in the AWS SDKs'
 * partitions.json: two letters (`us`, `eu`, `ap`, `cn`, `il`, `mx`, …) with an optional `-gov` or
 * `-iso…` qualifier, or the European Sovereign Cloud's `eusc-de`; then a direction (`east`,
 * `southeast`, `central`, …) and a number. Only the shape is checked, so regions AWS opens later
 * pass; what passes is safe in a host name such as `email-smtp.REGION.amazonaws.com`.
 */
const AWS_REGION = /^(?:[a-z]{2}(?:-gov|-iso[a-z]?)?|eusc-[a-z]{2})-[a-z]+-\d{1,2}$/;

export function isAwsRegion(value: string): boolean {
  return AWS_REGION.test(value);
}

export const AWS_REGION_MESSAGE = 'Enter a valid AWS region name, such as "eu-west-1".';
