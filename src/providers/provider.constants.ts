export const PROVIDER_TYPES = ['smtp', 'aws_ses'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];
export const PROVIDER_TYPE_DISPLAY: Record<ProviderType, string> = { smtp: 'Custom SMTP', aws_ses: 'Amazon SES' };

export const PRIORITIES = [1, 2, 3] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PRIORITY_DISPLAY: Record<Priority, string> = { 1: 'Primary', 2: 'Secondary', 3: 'Backup' };

export const HEALTH_STATUSES = ['healthy', 'unhealthy', 'unknown'] as const;
export type HealthStatus = (typeof HEALTH_STATUSES)[number];
export const HEALTH_STATUS_DISPLAY: Record<HealthStatus, string> = {
  healthy: 'Healthy',
  unhealthy: 'Unhealthy',
  unknown: 'Unknown',
};
