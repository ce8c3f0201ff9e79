/**
 * The one inverse of Terraform's template escapes, for every suite and tool that reads a
 * synthesized stack: in Terraform's JSON syntax every string is a template, so `$${` stands for a
 * literal `${` and `%%{` for a literal `%{` (lib/mirror-build.ts `escapeTerraformTemplate` writes
 * them, e.g. for every `${` of a buildspec). This gives the string as Terraform hands it to the
 * provider.
 */

/** An unescaped `${` or `%{`: a real interpolation or directive, which only Terraform can resolve. */
const INTERPOLATION = /(^|[^$])\$\{|(^|[^%])%\{/;

/**
 * `value` with its template escapes resolved (`$${` → `${`, `%%{` → `%{`). With `what` (what the
 * value is, for the message), a value holding a real interpolation is refused rather than passed on
 * verbatim (the e2e harness, which has no deployed resource to resolve it from).
 */
export function terraformLiteral(value: string, what?: string): string {
  if (what !== undefined && INTERPOLATION.test(value)) {
    throw new Error(`${what} contains a Terraform interpolation, which the harness cannot resolve`);
  }
  return value.replace(/\$\$\{/g, () => "${").replace(/%%\{/g, () => "%{");
}
