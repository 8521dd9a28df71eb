import type * as pulumi from "@pulumi/pulumi";

/** What every target component gives the stack, whatever runs the server. */
export interface DeployedTarget {
  /** https://... where clients reach the tracking server. */
  readonly url: pulumi.Output<string>;
  /** Further stack outputs of this target (secrets as Pulumi secrets). */
  readonly outputs?: Record<string, pulumi.Output<unknown>>;
}
