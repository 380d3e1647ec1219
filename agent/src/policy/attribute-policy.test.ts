import { describe, expect, it } from "vitest";
import { AttributePolicy } from "./attribute-policy.ts";

const refusedWith = (fn: () => void) => {
  try {
    fn();
  } catch (e) {
    return { code: (e as { code?: string }).code, message: (e as Error).message, fix: (e as { fix?: string }).fix };
  }
  return undefined;
};

describe("AttributePolicy", () => {
  const policy = new AttributePolicy(["employeeID"]);

  it.each([
    "unicodePwd",
    "UserPassword",
    "ms-Mcs-AdmPwd",
    "msLAPS-Password",
    "msLAPS-EncryptedPassword",
    "msFVE-RecoveryPassword",
    "msDS-ManagedPassword",
    "supplementalCredentials",
    "ms-mcs-admpwd;binary",
    "employeeID",
    "EMPLOYEEID",
  ])("refuses to read %s", (name) => {
    expect(policy.denies(name)).toBe(true);
    expect(refusedWith(() => policy.checkRead({ attributes: ["cn", name] }))).toMatchObject({
      code: "attribute_denied",
      message: expect.stringContaining("holds a secret"),
      fix: expect.stringContaining("--deny-attribute"),
    });
    expect(refusedWith(() => policy.checkRead({ attributes: ["cn"], binaryAttributes: [name] }))?.code).toBe("attribute_denied");
  });

  it("reads what a sync reads", () => {
    for (const name of [
      "cn",
      "mail",
      "thumbnailPhoto",
      "objectGUID",
      "userAccountControl",
      "ipPhone",
      "memberOf",
      "msDS-cloudExtensionAttribute1",
    ])
      expect(policy.denies(name)).toBe(false);
    expect(() =>
      policy.checkRead({ attributes: ["cn", "mail"], binaryAttributes: ["thumbnailPhoto"], filter: "(&(objectClass=user)(mail=*))" }),
    ).not.toThrow();
    expect(new AttributePolicy().denies("employeeID")).toBe(false);
  });

  it.each(["*", "+"])("refuses the wildcard %s, which would include secrets", (wildcard) => {
    expect(refusedWith(() => policy.checkRead({ attributes: [wildcard] }))).toMatchObject({
      code: "attribute_denied",
      message: expect.stringContaining("every attribute"),
    });
  });

  it.each([
    "(ms-Mcs-AdmPwd=a*)",
    "(&(objectClass=computer)(ms-Mcs-AdmPwd>=m))",
    "(|(cn=x)(!(msLAPS-Password=*)))",
    "(userPassword:caseExactMatch:=secret)",
  ])("refuses a filter on a secret, which would reveal it by yes and no: %s", (filter) => {
    expect(refusedWith(() => policy.checkRead({ attributes: ["cn"], filter }))).toMatchObject({
      code: "attribute_denied",
      message: expect.stringMatching(/a filter on .+ would reveal it/),
    });
  });

  it("drops denied attributes from an entry the directory returned, and leaves a clean entry as it is", () => {
    const clean = { dn: "CN=A", attributes: { cn: ["A"] } };
    expect(policy.strip(clean)).toBe(clean);
    expect(
      policy.strip({
        dn: "CN=PC1",
        attributes: { cn: ["PC1"], "ms-Mcs-AdmPwd": ["s3cret"], unicodePwd: ["x"] },
        binary: ["unicodePwd", "objectGUID"],
      }),
    ).toEqual({ dn: "CN=PC1", attributes: { cn: ["PC1"] }, binary: ["objectGUID"] });
  });
});
