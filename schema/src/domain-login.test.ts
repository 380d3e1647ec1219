import { describe, expect, it } from "vitest";
import { endUserReason, loginInputProblem, parseLoginName } from "./domain-login.ts";

describe("parseLoginName", () => {
  it.each([
    ["jjones@example.com", { kind: "upn", upn: "jjones@example.com", local: "jjones", suffix: "example.com" }],
    [" jjones@example.com ", { kind: "upn", upn: "jjones@example.com", local: "jjones", suffix: "example.com" }],
    ["a@b@example.com", { kind: "upn", upn: "a@b@example.com", local: "a@b", suffix: "example.com" }],
    ["EXAMPLE\\jjones", { kind: "downLevel", domain: "EXAMPLE", sam: "jjones" }],
    ["jjones", undefined],
    ["@example.com", undefined],
    ["jjones@", undefined],
    ["\\jjones", undefined],
    ["EXAMPLE\\", undefined],
  ])("%s", (username, expected) => {
    expect(parseLoginName(username)).toEqual(expected);
  });
});

describe("endUserReason", () => {
  it.each([
    ["invalid_credentials", "invalid_credentials"],
    ["no_such_user", "invalid_credentials"],
    ["account_disabled", "invalid_credentials"],
    ["account_locked", "invalid_credentials"],
    ["account_expired", "invalid_credentials"],
    ["not_permitted", "invalid_credentials"],
    ["password_expired", "password_expired"],
    ["password_must_change", "password_must_change"],
    ["directory_unavailable", "directory_unavailable"],
  ] as const)("%s is shown as %s", (reason, shown) => {
    expect(endUserReason(reason)).toBe(shown);
  });
});

describe("loginInputProblem", () => {
  it.each([
    ["an empty password", "jjones@example.com", "", "empty_password"],
    ["a password that is not text", "jjones@example.com", 42, "empty_password"],
    ["an empty name", "", "secret", "empty_username"],
    ["a blank name", "   ", "secret", "empty_username"],
    ["a name that is not text", null, "secret", "empty_username"],
    ["a name of 10,000 characters", `${"a".repeat(9988)}@example.com`, "secret", "username_too_long"],
    ["a NUL byte", "jjones\u0000@example.com", "secret", "username_control_characters"],
    ["a line break", "jjones@example.com\n", "secret", "username_control_characters"],
    ["a C1 control", "jjones\u0085@example.com", "secret", "username_control_characters"],
    ["a bare name", "jjones", "secret", "malformed_username"],
  ])("refuses %s", (_, username, password, problem) => {
    expect(loginInputProblem(username, password)).toBe(problem);
  });

  it.each(["jjones@example.com", "EXAMPLE\\jjones", "zmüller@example.com", "*)(sAMAccountName=*@example.com"])(
    "leaves %s to the checks that know the directory",
    (username) => {
      expect(loginInputProblem(username, "secret")).toBeUndefined();
    },
  );
});
