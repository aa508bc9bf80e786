/**
 * The private half of the test Ed25519 key whose public half is TELNYX_PUBLIC_KEY in
 * vitest.config.ts: the Telnyx stand-ins sign their webhooks with it. A fixture, never a secret.
 */
export const TELNYX_TEST_PRIVATE_KEY_PKCS8 = "MC4CAQAwBQYDK2VwBCIEIMNZYKnLFNqq2g0HUimUFJNb8loc0z78DS+zCNhqBBrM";
export const TELNYX_TEST_PUBLIC_KEY = "kjE/9Ed8tLSkGLHJ5NZMIhudyNw4sjf7WxcZnuJMACw=";
