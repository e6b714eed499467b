// Secrets are not in wrangler.toml, so `wrangler types` cannot see them; they are declared here,
// on both the global Env and Cloudflare.Env (what `cloudflare:workers`' env is typed as).
interface CanopySecrets {
  /** The admin bearer token (a secret; `.dev.vars` locally). */
  ADMIN_TOKEN: string;
  /** Base64 of 32 bytes: the AES-GCM key that encrypts stored secrets. */
  SECRETS_KEY: string;
  /**
   * Optional: comma-separated base64 keys that only open what they sealed before a rotation
   * (src/crypto/seal.ts, docs/security.md#rotating-secrets_key).
   */
  SECRETS_KEY_PREVIOUS?: string;
}
interface Env extends CanopySecrets {}
declare namespace Cloudflare {
  interface Env extends CanopySecrets {}
}
