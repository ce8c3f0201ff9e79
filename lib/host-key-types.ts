/** The SSH host-key types of pinned keys (no imports: the buildspecs and the rule table both read it). */

/**
 * Host-key types the configuration accepts for pinned keys (OpenSSH's names; `ssh-dss` is gone from
 * OpenSSH 9.8 and the `sk-` types need a security key, which a host does not have).
 */
export const HOST_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"] as const;

/**
 * {@link HOST_KEY_TYPES} as one extended regular expression for a whole type field: used by the
 * configuration's rule, by preflight, and by the build, which gets it from the buildspec
 * (`BACKLOG_SSH_KEY_TYPES`, lib/buildspec.ts) for the lines of a host-key parameter too.
 */
export const HOST_KEY_TYPE_PATTERN = `^(${HOST_KEY_TYPES.join("|")})$`;
