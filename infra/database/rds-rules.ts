/**
 * AWS's rules for an RDS PostgreSQL instance and its network, as plain functions: settings.ts
 * turns them into the messages users see, rds.ts applies the same functions as its own guard,
 * so the two can never disagree.
 */

/** The PostgreSQL majors settings accept; the integration tests run on each of them. */
export const POSTGRES_MAJORS = ["14", "15", "16", "17", "18"] as const;

/** VPC blocks the subnet split takes: a sixteenth of a /24 is a /28, the smallest AWS subnet. */
export const VPC_PREFIX = { min: 16, max: 24 } as const;

/**
 * RDS storage autoscaling: the ceiling must be at least 10% above the allocated storage (AWS,
 * "Managing capacity automatically with Amazon RDS storage autoscaling"). A ceiling equal to the
 * allocated storage means autoscaling off (rds.ts then sends no ceiling). Returns what is wrong
 * and the fix, or undefined.
 */
export function storageCeilingProblem(allocatedGb: number, maxGb: number): string | undefined {
  if (maxGb === allocatedGb) return undefined;
  const least = minimumCeilingGb(allocatedGb);
  if (maxGb < allocatedGb) {
    return `(${maxGb}) is below allocatedStorageGb (${allocatedGb}). Set it to ${least} or more for storage autoscaling, or equal to allocatedStorageGb (${allocatedGb}) to turn autoscaling off`;
  }
  if (maxGb < least) {
    return `(${maxGb}) is less than 10% above allocatedStorageGb (${allocatedGb}), which RDS refuses. Set it to ${least} or more, or equal to allocatedStorageGb (${allocatedGb}) to turn autoscaling off`;
  }
  return undefined;
}

/** The smallest ceiling RDS accepts: allocated + 10%, rounded up to a whole GiB. */
export function minimumCeilingGb(allocatedGb: number): number {
  return Math.ceil((allocatedGb * 11) / 10);
}

/**
 * The first `count` subnets of the VPC range, each 1/16 of it (a /16 gives /20s): the rest of
 * the range stays free for subnets other components add (an ECS target's public subnets).
 */
export function subnetCidrs(vpcCidr: string, count: number): string[] {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(vpcCidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = m ? Number(m[5]) : NaN;
  if (!m || octets.some((o) => o > 255) || !(prefix >= VPC_PREFIX.min && prefix <= VPC_PREFIX.max)) {
    throw new Error(`vpc cidrBlock ${vpcCidr} must be an IPv4 range from /${VPC_PREFIX.min} to /${VPC_PREFIX.max}`);
  }
  const newPrefix = prefix + 4;
  const size = 2 ** (32 - newPrefix);
  const base = ((octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]) >>> 0;
  if (base % 2 ** (32 - prefix) !== 0) throw new Error(`vpc cidrBlock ${vpcCidr} has host bits set`);
  return Array.from({ length: count }, (_, i) => {
    const n = (base + i * size) >>> 0;
    return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${newPrefix}`;
  });
}
